// FunctionRef: a non-owning reference to a callable, for functions that call what they are
// given before they return and keep nothing (a call's body, run under a lease's lock).
// Unlike std::function it never allocates: a lambda capturing more than two references
// does not fit std::function's small buffer, and that was a malloc and a free per call.
// It must not outlive the callable it was made from (a temporary lambda lives until the
// end of the full expression that passes it, which is all a call needs).
#pragma once

#include <memory>
#include <type_traits>
#include <utility>

namespace cryptine {

template <typename Signature>
class FunctionRef;

template <typename R, typename... Args>
class FunctionRef<R(Args...)> {
 public:
  template <typename F, typename = std::enable_if_t<!std::is_same_v<std::remove_cvref_t<F>, FunctionRef> &&
                                                    std::is_invocable_r_v<R, F&, Args...>>>
  FunctionRef(F&& f) noexcept  // NOLINT: implicit, as std::function's
      : object_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
        call_([](void* object, Args... args) -> R {
          return (*static_cast<std::remove_reference_t<F>*>(object))(std::forward<Args>(args)...);
        }) {}

  R operator()(Args... args) const { return call_(object_, std::forward<Args>(args)...); }

 private:
  void* object_;
  R (*call_)(void*, Args...);
};

}  // namespace cryptine
