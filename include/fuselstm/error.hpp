#pragma once
// Library exceptions. Every failure the library reports is one of these; the library never calls
// exit() or abort().

#include <stdexcept>
#include <string>

namespace fuselstm {

/// Base of every exception the library throws.
class Error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// An argument has the wrong shape, size, dtype or device. The message names the argument, the
/// expected and the actual value. Nothing was modified.
class ShapeError : public Error {
public:
  using Error::Error;
};

/// A value is out of its allowed range or non-finite where finiteness is checked.
class ValueError : public Error {
public:
  using Error::Error;
};

/// A CUDA, cuBLAS or cuDNN call failed; the message holds file:line, the call and the API's text.
class DeviceError : public Error {
public:
  using Error::Error;
};

/// Device (or host) memory could not be allocated. What was allocated before is freed and the
/// object that asked stays usable.
class OutOfMemoryError : public DeviceError {
public:
  using DeviceError::DeviceError;
};

/// A file could not be read or written, or is malformed.
class FormatError : public Error {
public:
  using Error::Error;
};

}  // namespace fuselstm
