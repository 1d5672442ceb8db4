// The Python extension `fuselstm._fuselstm`: a thin nanobind layer over the C++ API (no math of its
// own). Arrays come in through DLPack / the buffer protocol (numpy, torch, CUDA arrays) and are
// borrowed, not copied, when C-contiguous and of the model's dtype and device; results go out as
// arrays that own a fuselstm Tensor (no copy either).

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "fuselstm/fuselstm.hpp"

namespace nb = nanobind;
using namespace fuselstm;

namespace {

using Array = nb::ndarray<nb::c_contig>;

DType dtype_of(const std::string& name) {
  if (name == "float32") return DType::f32;
  if (name == "float64") return DType::f64;
  throw ValueError("fuselstm: dtype must be 'float32' or 'float64', got '" + name + "'");
}

std::string dtype_str(DType d) { return d == DType::f32 ? "float32" : "float64"; }

// The array as a view on `context`, checked against the model's dtype and device.
Tensor borrow(const Array& a, DType dtype, const ExecutionContext& context, const char* name) {
  const bool f32 = a.dtype() == nb::dtype<float>(), f64 = a.dtype() == nb::dtype<double>();
  if ((dtype == DType::f32 && !f32) || (dtype == DType::f64 && !f64)) {
    throw ShapeError(std::string("fuselstm: ") + name + " must be " + dtype_str(dtype) +
                     " (the model's dtype); convert it first");
  }
  const Device want = context.device();
  const bool on_cuda = a.device_type() == nb::device::cuda::value;
  if (on_cuda != want.is_cuda() || (on_cuda && a.device_id() != want.index) ||
      (!on_cuda && a.device_type() != nb::device::cpu::value)) {
    throw ShapeError(std::string("fuselstm: ") + name + " must be on " + want.str() +
                     " (the model's device)");
  }
  Shape shape;
  for (std::size_t k = 0; k < a.ndim(); ++k) shape.push_back(static_cast<std::int64_t>(a.shape(k)));
  return Tensor::borrow(const_cast<void*>(a.data()), shape, dtype, context);
}

std::optional<Tensor> borrow_optional(const std::optional<Array>& a, DType dtype,
                                      const ExecutionContext& context, const char* name) {
  if (!a) return std::nullopt;
  return borrow(*a, dtype, context, name);
}

Tensor or_undefined(std::optional<Tensor>&& t) { return t ? std::move(*t) : Tensor(); }

// A fuselstm Tensor handed out as an array that owns it (numpy-compatible on the host, DLPack on
// CUDA). Undefined tensors become None.
nb::object to_array(Tensor&& t) {
  if (!t.defined()) return nb::none();
  auto* owned = new Tensor(std::move(t));
  nb::capsule owner(owned, [](void* p) noexcept { delete static_cast<Tensor*>(p); });
  std::vector<std::size_t> shape(owned->shape().begin(), owned->shape().end());
  const bool cuda = owned->device().is_cuda();
  const int device_type = cuda ? nb::device::cuda::value : nb::device::cpu::value;
  const int device_id = cuda ? owned->device().index : 0;
  const nb::dlpack::dtype dt =
      owned->dtype() == DType::f32 ? nb::dtype<float>() : nb::dtype<double>();
  if (!cuda) {
    return nb::cast(nb::ndarray<nb::numpy>(owned->data(), shape.size(), shape.data(), owner,
                                           nullptr, dt, device_type, device_id));
  }
  return nb::cast(nb::ndarray<>(owned->data(), shape.size(), shape.data(), owner, nullptr, dt,
                                device_type, device_id));
}

// One model and the context it runs on.
class Model {
 public:
  Model(std::int64_t input_size, std::int64_t hidden_size, std::int64_t num_layers, bool bias,
        bool batch_first, double dropout, bool bidirectional, const std::string& cell,
        const std::string& dtype, const std::string& device, std::uintptr_t stream,
        std::uint64_t dropout_seed)
      : model_(make(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                    cell, dtype, device, stream, dropout_seed)) {}

  std::vector<std::string> parameter_names() const { return model_.parameter_names(); }
  std::vector<std::int64_t> parameter_shape(const std::string& name) const {
    return model_.parameter(name).shape();
  }
  std::string dtype() const { return dtype_str(model_.config().dtype); }
  std::string device() const { return model_.config().device.str(); }

  // A copy of the parameter or gradient (numpy API).
  nb::object parameter(const std::string& name) const { return to_array(model_.parameter(name).clone()); }
  nb::object gradient(const std::string& name) const { return to_array(model_.gradient(name).clone()); }
  void set_parameter(const std::string& name, const Array& value) {
    Tensor& p = model_.parameter(name);
    const Tensor src = borrow(value, p.dtype(), model_.context(), name.c_str());
    if (src.shape() != p.shape()) {
      throw ShapeError("fuselstm: " + name + " must be " + shape_str(p.shape()) + ", got " +
                       shape_str(src.shape()));
    }
    Tensor copy = src.clone();  // an owned copy: the model keeps no reference to the caller's array
    model_.bind_parameter(name, std::move(copy));
  }
  // The parameter (and its gradient) become views of the caller's memory (zero-copy).
  void bind(const std::string& name, const Array& value, const std::optional<Array>& gradient) {
    const DType d = model_.config().dtype;
    model_.bind_parameter(name, borrow(value, d, model_.context(), name.c_str()),
                          or_undefined(borrow_optional(gradient, d, model_.context(), "gradient")));
  }

  std::tuple<nb::object, nb::object, nb::object, ForwardContext> forward(
      const Array& x, const std::optional<Array>& h0, const std::optional<Array>& c0,
      const std::vector<std::int64_t>& lengths) {
    const DType d = model_.config().dtype;
    const ExecutionContext& ctx = model_.context();
    Tensor tx = borrow(x, d, ctx, "input");
    last_input_ = reinterpret_cast<std::uintptr_t>(tx.data());
    Tensor th = or_undefined(borrow_optional(h0, d, ctx, "h0"));
    Tensor tc = or_undefined(borrow_optional(c0, d, ctx, "c0"));
    ForwardResult r;
    {
      nb::gil_scoped_release release;
      r = model_.forward(tx, th, tc, lengths);
    }
    return {to_array(std::move(r.y)), to_array(std::move(r.hT)), to_array(std::move(r.cT)),
            std::move(r.context)};
  }

  std::tuple<nb::object, nb::object, nb::object> infer(const Array& x, const std::optional<Array>& h0,
                                                       const std::optional<Array>& c0,
                                                       const std::vector<std::int64_t>& lengths) {
    const DType d = model_.config().dtype;
    const ExecutionContext& ctx = model_.context();
    Tensor tx = borrow(x, d, ctx, "input");
    Tensor th = or_undefined(borrow_optional(h0, d, ctx, "h0"));
    Tensor tc = or_undefined(borrow_optional(c0, d, ctx, "c0"));
    InferenceResult r;
    {
      nb::gil_scoped_release release;
      r = model_.infer(tx, th, tc, lengths);
    }
    return {to_array(std::move(r.y)), to_array(std::move(r.hT)), to_array(std::move(r.cT))};
  }

  std::tuple<nb::object, nb::object, nb::object> backward(const ForwardContext& context,
                                                          const std::optional<Array>& dy,
                                                          const std::optional<Array>& dhT,
                                                          const std::optional<Array>& dcT,
                                                          bool compute_dx) {
    const DType d = model_.config().dtype;
    const ExecutionContext& ctx = model_.context();
    Tensor tdy = or_undefined(borrow_optional(dy, d, ctx, "dy"));
    Tensor th = or_undefined(borrow_optional(dhT, d, ctx, "dhT"));
    Tensor tc = or_undefined(borrow_optional(dcT, d, ctx, "dcT"));
    BackwardResult r;
    {
      nb::gil_scoped_release release;
      r = model_.backward(context, tdy, th, tc, compute_dx);
    }
    return {to_array(std::move(r.dx)), to_array(std::move(r.dh0)), to_array(std::move(r.dc0))};
  }

  // The address the model reads the parameter from (tests assert it is the caller's memory).
  std::uintptr_t parameter_data_ptr(const std::string& name) const {
    return reinterpret_cast<std::uintptr_t>(model_.parameter(name).data());
  }
  std::uintptr_t gradient_data_ptr(const std::string& name) const {
    return reinterpret_cast<std::uintptr_t>(model_.gradient(name).data());
  }

  // The address forward last read its input from (tests: the caller's memory, not a copy).
  std::uintptr_t last_input_ptr() const { return last_input_; }

  void zero_grad() { model_.zero_grad(); }
  void set_training(bool training) { model_.set_training(training); }
  bool training() const { return model_.training(); }
  std::uint64_t dropout_offset() const { return model_.dropout_offset(); }
  void set_dropout_offset(std::uint64_t offset) { model_.set_dropout_offset(offset); }
  void synchronize() { model_.context().synchronize(); }

 private:
  static Lstm make(std::int64_t input_size, std::int64_t hidden_size, std::int64_t num_layers,
                   bool bias, bool batch_first, double dropout, bool bidirectional,
                   const std::string& cell, const std::string& dtype, const std::string& device,
                   std::uintptr_t stream, std::uint64_t dropout_seed) {
    LstmSpec spec;
    spec.input_size = input_size;
    spec.hidden_size = hidden_size;
    spec.num_layers = num_layers;
    spec.bias = bias;
    spec.batch_first = batch_first;
    spec.dropout = dropout;
    spec.bidirectional = bidirectional;
    if (cell != "tanh" && cell != "identity") {
      throw ValueError("fuselstm: cell must be 'tanh' or 'identity', got '" + cell + "'");
    }
    spec.cell = cell == "tanh" ? CellActivation::tanh : CellActivation::identity;
    spec.dropout_seed = dropout_seed;
    RunOptions run;
    run.dtype = dtype_of(dtype);
    run.device = Device::parse(device);
    if (stream != 0 && run.device.is_cuda()) {
      run.context = ExecutionContext::borrow_stream(run.device, reinterpret_cast<void*>(stream));
    }
    return Lstm(spec, run);
  }

  Lstm model_;
  std::uintptr_t last_input_ = 0;
};

}  // namespace

NB_MODULE(_fuselstm, m) {
  m.doc() = "fuselstm's C++ library: LSTM training with BPTT on CUDA GPUs and the CPU";
  // Models held by torch modules that are still alive when the interpreter shuts down are freed by
  // the process's exit, not by Python: not a leak of the bindings, so no warning about them.
  nb::set_leak_warnings(false);

  // The library's errors as Python exceptions of the closest kind.
  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const ShapeError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const ValueError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const OutOfMemoryError& e) {
      PyErr_SetString(PyExc_MemoryError, e.what());
    } catch (const Error& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    }
  });

  m.attr("__version__") = FUSELSTM_VERSION_STRING;
  m.def("cuda_device_count", [] { return cuda_device_count(); });

  nb::class_<ForwardContext>(m, "ForwardContext",
                             "What backward needs from a forward (opaque; keep it until backward)")
      .def_prop_ro("steps", &ForwardContext::steps)
      .def_prop_ro("batch", &ForwardContext::batch);

  nb::class_<Model>(m, "Model", "One fuselstm::Lstm and its execution context")
      .def(nb::init<std::int64_t, std::int64_t, std::int64_t, bool, bool, double, bool,
                    const std::string&, const std::string&, const std::string&, std::uintptr_t,
                    std::uint64_t>(),
           nb::arg("input_size"), nb::arg("hidden_size"), nb::arg("num_layers") = 1,
           nb::arg("bias") = true, nb::arg("batch_first") = false, nb::arg("dropout") = 0.0,
           nb::arg("bidirectional") = false, nb::arg("cell") = "tanh",
           nb::arg("dtype") = "float32", nb::arg("device") = "cpu", nb::arg("stream") = 0,
           nb::arg("dropout_seed") = 0)
      .def("parameter_names", &Model::parameter_names)
      .def("parameter_shape", &Model::parameter_shape)
      .def_prop_ro("dtype", &Model::dtype)
      .def_prop_ro("device", &Model::device)
      .def("parameter", &Model::parameter)
      .def("gradient", &Model::gradient)
      .def("set_parameter", &Model::set_parameter)
      .def("bind", &Model::bind, nb::arg("name"), nb::arg("value"), nb::arg("gradient") = nb::none())
      .def("forward", &Model::forward, nb::arg("x"), nb::arg("h0") = nb::none(),
           nb::arg("c0") = nb::none(), nb::arg("lengths") = std::vector<std::int64_t>())
      .def("infer", &Model::infer, nb::arg("x"), nb::arg("h0") = nb::none(),
           nb::arg("c0") = nb::none(), nb::arg("lengths") = std::vector<std::int64_t>())
      .def("backward", &Model::backward, nb::arg("context"), nb::arg("dy") = nb::none(),
           nb::arg("dhT") = nb::none(), nb::arg("dcT") = nb::none(), nb::arg("compute_dx") = true)
      .def("parameter_data_ptr", &Model::parameter_data_ptr)
      .def("gradient_data_ptr", &Model::gradient_data_ptr)
      .def_prop_ro("last_input_ptr", &Model::last_input_ptr)
      .def("zero_grad", &Model::zero_grad)
      .def_prop_rw("training", &Model::training, &Model::set_training)
      .def_prop_rw("dropout_offset", &Model::dropout_offset, &Model::set_dropout_offset)
      .def("synchronize", &Model::synchronize);
}
