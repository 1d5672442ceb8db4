#include "runtime/capture_region.hpp"

#include <string>

#include "fuselstm/error.hpp"

namespace fuselstm::detail {
namespace {
// Per thread: a region on one thread never restricts another thread's contexts.
thread_local int capture_depth = 0;
}  // namespace

CaptureRegion::CaptureRegion() { ++capture_depth; }
CaptureRegion::~CaptureRegion() { --capture_depth; }
bool CaptureRegion::active() noexcept { return capture_depth > 0; }

void check_not_capturing(const char* what) {
  if (capture_depth > 0) {
    throw Error(std::string("fuselstm: internal error: ") + what +
                " inside a captured call sequence (RecurrentAlgorithm::graphs); please report it");
  }
}

}  // namespace fuselstm::detail
