# Sourced by shell tests that need /dev/kvm: the test re-runs itself through run-in-kvm,
# which runs it here where this machine's KVM is usable and inside the KVM harness where
# it is not (the shell twin of reexec_in_harness.h).
if [ -z "${CRYPTINE_IN_KVM_HARNESS:-}" ]; then
  exec "$(dirname "${BASH_SOURCE[0]}")/run-in-kvm" bash "$0" "$@"
fi
if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
  echo "$0: no usable /dev/kvm even after run-in-kvm chose where to run" >&2
  exit 1
fi
