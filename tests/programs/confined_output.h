/* Shared by the test programs that confine themselves with seccomp (seccomp_confine.c,
 * key_lifecycle.c): the filter, and how they print what each operation gave. */
#ifndef CRYPTINE_TESTS_CONFINED_OUTPUT_H
#define CRYPTINE_TESTS_CONFINED_OUTPUT_H

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <openssl/err.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static inline void print_hex(const char* name, const unsigned char* p, size_t n) {
  printf("%s ", name);
  for (size_t i = 0; i < n; ++i) printf("%02x", p[i]);
  printf("\n");
}

/* Every error on the queue, with its data, on one line ("none" if the queue is empty). */
static inline void print_error(const char* name) {
  printf("%s error:", name);
  const char* extra = NULL;
  int flags = 0, any = 0;
  unsigned long e;
  while ((e = ERR_get_error_all(NULL, NULL, NULL, &extra, &flags)) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    printf(" %s%s%s;", buf, (flags & ERR_TXT_STRING) && *extra ? " | " : "", (flags & ERR_TXT_STRING) ? extra : "");
    any = 1;
  }
  printf("%s\n", any ? "" : " none");
}

static inline void install_filter(const char* how) {
  struct sock_filter code[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_ioctl, 3, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_timer_create, 2, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_timer_settime, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
  };
  struct sock_fprog prog = {.len = sizeof(code) / sizeof(code[0]), .filter = code};
  /* stdio decides its buffering (an isatty() ioctl) at the first write: do it now */
  fflush(stdout);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    perror("prctl(PR_SET_NO_NEW_PRIVS)");
    exit(1);
  }
  int rc = strcmp(how, "syscall") == 0 ? (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog)
                                       : prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
  if (rc != 0) {
    perror(strcmp(how, "syscall") == 0 ? "seccomp(SECCOMP_SET_MODE_FILTER)" : "prctl(PR_SET_SECCOMP)");
    exit(1);
  }
  printf("filter installed (%s)\n", how);
}

#endif
