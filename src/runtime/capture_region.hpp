#pragma once
// The region in which a call sequence is recorded or captured as a graph
// (RecurrentAlgorithm::graphs). Inside it, on the thread that opened it, the library refuses what a
// graph cannot replay: taking memory from an arena, waiting for a stream, copying to the host (a
// host read). Each of those places calls check_not_capturing(), which throws instead of letting a
// graph bake in a block that is handed out again later or skip a wait. Internal.

namespace fuselstm::detail {

class CaptureRegion {
 public:
  CaptureRegion();
  ~CaptureRegion();
  CaptureRegion(const CaptureRegion&) = delete;
  CaptureRegion& operator=(const CaptureRegion&) = delete;

  /// Whether this thread is inside a region now.
  static bool active() noexcept;
};

/// Throws fuselstm::Error naming `what` (an allocation, a synchronisation, a host read) when this
/// thread is inside a CaptureRegion: a library bug, never the caller's.
void check_not_capturing(const char* what);

}  // namespace fuselstm::detail
