// A twin: where a provider context's state lives, a guest context `handle` in the virtine
// of `lease`. The provider's context object holds it from its first use to freectx.
#pragma once

#include "shim/client/guest_ops.h"
#include "shim/client/virtine_lease.h"

namespace cryptine {

struct Twin {
  LeaseRef lease;
  guest::Handle handle = 0;
};

// Ends a twin: its guest context goes, and its lease loses a context.
inline void release_twin(const Twin& twin) {
  drop_context(twin.lease, twin.handle);
}

}  // namespace cryptine
