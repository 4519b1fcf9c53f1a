# Sourced by shell tests that need /dev/kvm: where the host has none, re-run the test
# inside the KVM harness instead of skipping (the shell twin of reexec_in_harness.h).
if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
  if [ -n "${CRYPTINE_IN_KVM_HARNESS:-}" ]; then
    echo "$0: no usable /dev/kvm even inside the KVM harness" >&2
    exit 1
  fi
  export CRYPTINE_IN_KVM_HARNESS=1
  exec "$(dirname "${BASH_SOURCE[0]}")/run-in-kvm" bash "$0" "$@"
fi
