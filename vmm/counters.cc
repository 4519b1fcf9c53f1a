#include "vmm/counters.h"

namespace cryptine {

VmmCounters& vmm_counters() {
  static VmmCounters counters;
  return counters;
}

}  // namespace cryptine
