// Built without CUDA: no device exists, and asking for one says how to get it.

#include "runtime/memory.hpp"
#include "fuselstm/error.hpp"

namespace fuselstm::detail::cuda_runtime {

namespace {
[[noreturn]] void not_built() {
  throw DeviceError(
      "fuselstm: this build has no CUDA support (configure with the CUDA toolkit and "
      "-DFUSELSTM_CUDA=ON)");
}
}  // namespace

int device_count() noexcept { return 0; }
std::int64_t free_bytes(int) { not_built(); }
std::string device_name(int) { not_built(); }
void* allocate(int, std::size_t) { not_built(); }
void free(int, void*) noexcept {}
int current_device() { not_built(); }
void set_device(int) { not_built(); }
void* create_stream(int) { not_built(); }
void destroy_stream(int, void*) noexcept {}
void synchronize(int, void*) { not_built(); }
void memset_async(int, void*, int, std::size_t, void*) { not_built(); }
void copy_async(void*, bool, const void*, bool, std::size_t, int, void*) { not_built(); }
void order_after(int, void*, void*) { not_built(); }

}  // namespace fuselstm::detail::cuda_runtime
