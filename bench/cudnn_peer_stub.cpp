// cudnn_peer.hpp when the bench was built without cuDNN (or without CUDA).

#include "cudnn_peer.hpp"

namespace fuselstm::bench::cudnn_peer {

bool compiled() {
  return false;
}
std::string version() {
  return "not built (no cuDNN found; set -DFUSELSTM_CUDNN_ROOT)";
}
Result run(const Inputs&) {
  Result r;
  r.note = "the bench was built without cuDNN";
  return r;
}

}  // namespace fuselstm::bench::cudnn_peer
