#include "vmm/entropy.h"

#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace cryptine {
namespace {

constexpr size_t kBufferBytes = 4096;

// One page of the thread's own. `left` lives in the page too, so the kernel's wipe of a
// forked child's copy empties the buffer as well as zeroing its bytes.
struct EntropyPage {
  size_t left;  // unused bytes at the end of `bytes`
  uint8_t bytes[kBufferBytes - sizeof(size_t)];
};
static_assert(sizeof(EntropyPage) == kBufferBytes);

Status getrandom_all(std::span<uint8_t> out) {
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::getrandom(out.data() + done, out.size() - done, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::from_errno("getrandom");
    }
    done += static_cast<size_t>(n);
  }
  return {};
}

class ThreadEntropy {
 public:
  ~ThreadEntropy() {
    if (page_ == nullptr) return;
    explicit_bzero(page_, sizeof(*page_));
    munmap(page_, sizeof(*page_));
  }

  Status take(std::span<uint8_t> out) {
    if (out.size() > sizeof(page_->bytes)) return getrandom_all(out);
    if (page_ == nullptr) CRYPTINE_TRY_STATUS(map());
    if (page_->left < out.size()) {
      CRYPTINE_TRY_STATUS(getrandom_all(page_->bytes));
      page_->left = sizeof(page_->bytes);
    }
    uint8_t* from = page_->bytes + sizeof(page_->bytes) - page_->left;
    std::memcpy(out.data(), from, out.size());
    explicit_bzero(from, out.size());
    page_->left -= out.size();
    return {};
  }

 private:
  Status map() {
    void* p = mmap(nullptr, sizeof(EntropyPage), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return Error::from_errno("mmap (entropy buffer)");
    // Without the wipe a child would hand out its parent's next bytes: take none from it.
    if (madvise(p, sizeof(EntropyPage), MADV_WIPEONFORK) != 0 || madvise(p, sizeof(EntropyPage), MADV_DONTDUMP) != 0) {
      const Error error = Error::from_errno("madvise (entropy buffer)");
      munmap(p, sizeof(EntropyPage));
      return error;
    }
    page_ = static_cast<EntropyPage*>(p);  // zero-filled: left == 0
    return {};
  }

  EntropyPage* page_ = nullptr;
};

}  // namespace

Status fill_entropy(std::span<uint8_t> out) {
  thread_local ThreadEntropy entropy;
  return entropy.take(out);
}

}  // namespace cryptine
