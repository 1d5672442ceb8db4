#pragma once
// A recorded sequence of ops calls (RecurrentAlgorithm::graphs): each call is kept as its method
// and its arguments' bytes, nothing else, so two logs with the same methods and bytes replay the
// same work. A graph captured from one log can therefore stand in for another equal log, and only
// a log whose bytes differ needs a new capture or an update. Internal.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <tuple>
#include <type_traits>
#include <vector>

#include "ops/ops.hpp"

namespace fuselstm::ops {

template <typename T>
class CallLog {
 public:
  /// Replays one call: its method on `ops` with the arguments read back from `bytes`.
  using Invoker = void (*)(Ops<T>& ops, const std::byte* bytes);

  /// Appends a call of `Method` (a member of Ops<T>) with `args`, which must be exactly the
  /// method's parameter types by value (trivially copyable: enums, integers, pointers, args
  /// structs).
  template <auto Method, typename... Args>
  void add(const Args&... args) {
    static_assert((std::is_trivially_copyable_v<Args> && ...));
    calls_.push_back({&invoke<Method, Args...>, bytes_.size()});
    (append(args), ...);
  }

  /// Runs every call, in order, on `ops`.
  void replay(Ops<T>& ops) const {
    for (const Call& c : calls_) c.invoker(ops, bytes_.data() + c.offset);
  }

  bool empty() const { return calls_.empty(); }

  /// The same methods in the same order (what a graph's node structure depends on).
  bool same_methods(const CallLog& other) const {
    if (calls_.size() != other.calls_.size()) return false;
    for (std::size_t k = 0; k < calls_.size(); ++k) {
      if (calls_[k].invoker != other.calls_[k].invoker) return false;
    }
    return true;
  }
  /// The same methods with the same argument bytes: replaying either does the same work.
  bool same_calls(const CallLog& other) const {
    return same_methods(other) && bytes_ == other.bytes_;
  }
  /// A hash of the method sequence (equal for logs with the same_methods).
  std::uint64_t method_hash() const {
    std::uint64_t h = 1469598103934665603ull;  // FNV-1a over the invoker addresses
    for (const Call& c : calls_) {
      h ^= reinterpret_cast<std::uintptr_t>(c.invoker);
      h *= 1099511628211ull;
    }
    return h ^ calls_.size();
  }

 private:
  template <typename A>
  struct TypeTag {
    using type = A;
  };
  struct Call {
    Invoker invoker;
    std::size_t offset;  // of its first argument in bytes_
  };

  template <typename A>
  void append(const A& value) {
    A copy = value;
#if defined(__has_builtin)
#if __has_builtin(__builtin_clear_padding)
    // Padding bytes hold whatever the stack had: zeroed, equal arguments give equal bytes (without
    // it equal calls could differ in bytes: a needless graph update, never a wrong replay).
    __builtin_clear_padding(&copy);
#endif
#endif
    const std::size_t at = bytes_.size();
    bytes_.resize(at + sizeof(A));
    std::memcpy(bytes_.data() + at, &copy, sizeof(A));
  }

  template <auto Method, typename... Args>
  static void invoke(Ops<T>& ops, const std::byte* bytes) {
    std::size_t offset = 0;
    const auto take = [&](auto type_tag) {
      using A = typename decltype(type_tag)::type;
      A value;
      std::memcpy(&value, bytes + offset, sizeof(A));
      offset += sizeof(A);
      return value;
    };
    // A braced list evaluates its elements left to right: the arguments in the order appended.
    std::tuple<Args...> args{take(TypeTag<Args>{})...};
    std::apply([&](const Args&... a) { (ops.*Method)(a...); }, args);
  }

  std::vector<Call> calls_;
  std::vector<std::byte> bytes_;
};

}  // namespace fuselstm::ops
