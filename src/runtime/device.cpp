#include "fuselstm/device.hpp"

#include <cctype>

#include "fuselstm/error.hpp"
#include "runtime/context_state.hpp"
#include "runtime/memory.hpp"

namespace fuselstm {

Device Device::parse(const std::string& text) {
  if (text == "cpu") return cpu();
  if (text == "cuda") return cuda(0);
  if (text.rfind("cuda:", 0) == 0 && text.size() > 5 && text.size() < 10) {
    int index = 0;
    for (std::size_t k = 5; k < text.size(); ++k) {
      if (!std::isdigit(static_cast<unsigned char>(text[k]))) index = -1;
      if (index >= 0) index = index * 10 + (text[k] - '0');
    }
    if (index >= 0) return cuda(index);
  }
  throw ValueError("fuselstm: device '" + text + "' is not one of cpu, cuda, cuda:N");
}

std::string Device::str() const {
  return is_cpu() ? std::string("cpu") : "cuda:" + std::to_string(index);
}

bool cuda_compiled() {
#if FUSELSTM_HAVE_CUDA
  return true;
#else
  return false;
#endif
}

int cuda_device_count() { return detail::cuda_runtime::device_count(); }

Device default_device() { return cuda_device_count() > 0 ? Device::cuda(0) : Device::cpu(); }

std::string device_name(const Device& device) {
  if (device.is_cpu()) return "cpu";
  detail::check_device_usable(device, "the device");  // a named error, not the driver's code
  return detail::cuda_runtime::device_name(device.index);
}

}  // namespace fuselstm
