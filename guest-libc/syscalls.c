/* cryptine guest: the system-call layer newlib needs, on a machine with no OS.
 *
 * newlib was configured with --disable-newlib-supplied-syscalls, and for x86_64-elf its
 * configure.host adds -DMISSING_SYSCALL_NAMES: its reentrant wrappers (_write_r,
 * _sbrk_r, ...) call the POSIX names (write, sbrk, ...) defined below. The underscore
 * names (_write, _sbrk, ...) are aliases, for code or a newlib built without that macro.
 *
 * The only ways out of the guest are the hypercalls of abi/guest_abi.h: text goes to
 * the LOG page, the end is EXIT or ABORT. Everything that would need files, processes or a clock fails with
 * -1 and errno, except time: gettimeofday() succeeds with a FIXED time of 0 (1970-01-01)
 * so time() never fails and never changes. A constant keeps a snapshot deterministic;
 * fresh entropy comes from the boot info and RDRAND, never from the clock. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hypercall.h"

/* ---- boot info, log, abort -------------------------------------------------------- */

/* Saved by entry.asm from rdi (after .bss is zeroed). */
const struct cryptine_boot_info* cryptine_boot_info_ptr;

void cryptine_log(const char* text, size_t len) {
  while (len > 0) {
    size_t chunk = len < CRYPTINE_LOG_SIZE ? len : CRYPTINE_LOG_SIZE;
    memcpy((void*)(uintptr_t)CRYPTINE_LOG_ADDR, text, chunk);
    cryptine_hypercall(CRYPTINE_PORT_LOG, (uint32_t)chunk);
    text += chunk;
    len -= chunk;
  }
}

/* Appends text to the log page without libc's stdio or the heap, which may be what
 * broke. Returns the new length, never past the page. */
static size_t log_append(size_t at, const char* text) {
  char* page = (char*)(uintptr_t)CRYPTINE_LOG_ADDR;
  while (text != NULL && *text != '\0' && at < CRYPTINE_LOG_SIZE) page[at++] = *text++;
  return at;
}

static size_t log_append_uint(size_t at, unsigned long value) {
  char digits[24];
  size_t n = sizeof digits;
  digits[--n] = '\0';
  do {
    digits[--n] = (char)('0' + value % 10);
    value /= 10;
  } while (value != 0);
  return log_append(at, &digits[n]);
}

static __attribute__((noreturn)) void abort_with_length(size_t len) {
  cryptine_hypercall(CRYPTINE_PORT_ABORT, (uint32_t)len);
  for (;;) __asm__ volatile("hlt"); /* not resumed; HLT ends the virtine anyway */
}

void cryptine_abort(const char* message) {
  abort_with_length(log_append(0, message));
}

/* Replaces newlib's abort(), which would raise(SIGABRT) through _kill first. OpenSSL's
 * OPENSSL_die() ends here after its message. */
void abort(void) {
  cryptine_abort("abort() called");
}

/* Replaces newlib's assert handler, which would fprintf to stderr (stdio, heap). */
void __assert_func(const char* file, int line, const char* func, const char* expr) {
  size_t at = log_append(0, "assertion failed: ");
  at = log_append(at, expr);
  at = log_append(at, " at ");
  at = log_append(at, file);
  at = log_append(at, ":");
  at = log_append_uint(at, (unsigned long)(line < 0 ? 0 : line));
  if (func != NULL) {
    at = log_append(at, " in ");
    at = log_append(at, func);
  }
  abort_with_length(at);
}

/* newlib's assert.o defines both names: define both so it is never pulled in. */
void __assert(const char* file, int line, const char* expr) {
  __assert_func(file, line, NULL, expr);
}

/* Called by newlib's exit() after atexit handlers and stdio cleanup. */
void _exit(int status) {
  cryptine_exit(status);
}

/* ---- heap ----------------------------------------------------------------------------
 * From the page after the image (__heap_start, guest.ld) up to the end of guest RAM
 * (boot_info->mem_size, at most CRYPTINE_MEM_MAX). The stack and the mailbox lie below
 * CRYPTINE_IMAGE_BASE, so the heap can touch neither. */
extern char __heap_start[];
static uintptr_t heap_break; /* 0 until the first call */

static uintptr_t heap_limit(void) {
  const struct cryptine_boot_info* info = cryptine_boot_info_ptr;
  if (info == NULL || info->magic != CRYPTINE_BOOT_MAGIC) cryptine_abort("sbrk: no valid boot info");
  uint64_t end = info->mem_size < CRYPTINE_MEM_MAX ? info->mem_size : CRYPTINE_MEM_MAX;
  return end > (uintptr_t)__heap_start ? (uintptr_t)end : (uintptr_t)__heap_start;
}

void* sbrk(ptrdiff_t increment) {
  const uintptr_t start = (uintptr_t)__heap_start;
  if (heap_break == 0) heap_break = start;
  const uintptr_t limit = heap_limit();
  if ((increment > 0 && (uintptr_t)increment > limit - heap_break) ||
      (increment < 0 && (uintptr_t)0 - (uintptr_t)increment > heap_break - start)) {
    errno = ENOMEM;
    return (void*)-1;
  }
  uintptr_t old = heap_break;
  heap_break += (uintptr_t)increment;
  return (void*)old;
}

/* ---- files: only stdout and stderr exist, and they go to the LOG hypercall --------- */

static int is_std_fd(int fd) {
  return fd >= 0 && fd <= 2;
}

_READ_WRITE_RETURN_TYPE write(int fd, const void* buf, size_t len) {
  if (fd != 1 && fd != 2) {
    errno = EBADF;
    return -1;
  }
  cryptine_log((const char*)buf, len);
  return (_READ_WRITE_RETURN_TYPE)len;
}

_READ_WRITE_RETURN_TYPE read(int fd, void* buf, size_t len) {
  (void)buf;
  (void)len;
  errno = fd == 0 ? ENOSYS : EBADF; /* no input device */
  return -1;
}

int open(const char* path, int flags, ...) {
  (void)path;
  (void)flags;
  errno = ENOSYS; /* no file system */
  return -1;
}

int close(int fd) {
  if (is_std_fd(fd)) return 0;
  errno = EBADF;
  return -1;
}

off_t lseek(int fd, off_t offset, int whence) {
  (void)offset;
  (void)whence;
  errno = is_std_fd(fd) ? ESPIPE : EBADF;
  return (off_t)-1;
}

/* stdio asks fstat/isatty how to buffer: a character device that is a "tty" makes
 * stdout line-buffered, so a LOG hypercall carries whole lines. */
int fstat(int fd, struct stat* st) {
  if (!is_std_fd(fd)) {
    errno = EBADF;
    return -1;
  }
  memset(st, 0, sizeof *st);
  st->st_mode = S_IFCHR | 0620;
  return 0;
}

int isatty(int fd) {
  if (fd == 1 || fd == 2) return 1;
  errno = is_std_fd(fd) ? ENOTTY : EBADF;
  return 0;
}

int stat(const char* path, struct stat* st) {
  (void)path;
  (void)st;
  errno = ENOSYS;
  return -1;
}

int link(const char* old_path, const char* new_path) {
  (void)old_path;
  (void)new_path;
  errno = ENOSYS;
  return -1;
}

int unlink(const char* path) {
  (void)path;
  errno = ENOSYS;
  return -1;
}

int mkdir(const char* path, mode_t mode) {
  (void)path;
  (void)mode;
  errno = ENOSYS;
  return -1;
}

int fcntl(int fd, int cmd, ...) {
  (void)cmd;
  errno = is_std_fd(fd) ? ENOSYS : EBADF;
  return -1;
}

/* ---- processes: there is exactly one, and it cannot start others ------------------ */

pid_t getpid(void) {
  return 1;
}

int kill(pid_t pid, int sig) {
  (void)pid;
  (void)sig;
  errno = ENOSYS;
  return -1;
}

pid_t fork(void) {
  errno = ENOSYS;
  return -1;
}

int execve(const char* path, char* const argv[], char* const envp[]) {
  (void)path;
  (void)argv;
  (void)envp;
  errno = ENOSYS;
  return -1;
}

pid_t wait(int* status) {
  (void)status;
  errno = ECHILD;
  return -1;
}

/* OpenSSL's OPENSSL_issetugid() compares these (crypto/uid.c): one user, never setuid. */
uid_t getuid(void) {
  return 0;
}
uid_t geteuid(void) {
  return 0;
}
gid_t getgid(void) {
  return 0;
}
gid_t getegid(void) {
  return 0;
}

/* ---- time: no wall clock in a virtine (see the top of this file) ------------------ */

/* No timer to wait on (only RDTSC, and nothing to wait for: one vCPU, no devices).
 * OpenSSL's ossl_sleep() (BIO_wait, CMP polling) calls these; return at once and say
 * the time was not slept. */
unsigned sleep(unsigned seconds) {
  return seconds;
}

int usleep(useconds_t microseconds) {
  (void)microseconds;
  errno = ENOSYS;
  return -1;
}

int gettimeofday(struct timeval* restrict tv, void* restrict tz) {
  (void)tz;
  if (tv != NULL) {
    tv->tv_sec = 0;
    tv->tv_usec = 0;
  }
  return 0;
}

clock_t times(struct tms* buf) {
  (void)buf;
  errno = ENOSYS; /* clock() then returns -1, "processor time not available" */
  return (clock_t)-1;
}

/* ---- directories: guest-libc/include/dirent.h; there are none --------------------- */

DIR* opendir(const char* path) {
  (void)path;
  errno = ENOSYS;
  return NULL;
}

struct dirent* readdir(DIR* dir) {
  (void)dir;
  errno = EBADF; /* no DIR can exist */
  return NULL;
}

int closedir(DIR* dir) {
  (void)dir;
  errno = EBADF;
  return -1;
}

void rewinddir(DIR* dir) {
  (void)dir;
}

/* ---- underscore names ----------------------------------------------------------- */
#define CRYPTINE_ALIAS(name) __typeof__(name) _##name __attribute__((alias(#name)))
CRYPTINE_ALIAS(write);
CRYPTINE_ALIAS(read);
CRYPTINE_ALIAS(open);
CRYPTINE_ALIAS(close);
CRYPTINE_ALIAS(lseek);
CRYPTINE_ALIAS(fstat);
CRYPTINE_ALIAS(isatty);
CRYPTINE_ALIAS(stat);
CRYPTINE_ALIAS(link);
CRYPTINE_ALIAS(unlink);
CRYPTINE_ALIAS(mkdir);
CRYPTINE_ALIAS(fcntl);
CRYPTINE_ALIAS(getpid);
CRYPTINE_ALIAS(kill);
CRYPTINE_ALIAS(fork);
CRYPTINE_ALIAS(execve);
CRYPTINE_ALIAS(wait);
CRYPTINE_ALIAS(gettimeofday);
CRYPTINE_ALIAS(times);
CRYPTINE_ALIAS(sbrk);
