/* The guest's environment, from the monitor: at a cold boot the mailbox holds NAME=VALUE
 * strings (guest_abi.h). entry.asm calls this before any initialiser runs, because
 * OpenSSL reads OPENSSL_ia32cap from .init. Malformed text is ignored, not trusted. */
#include <stdlib.h>
#include <string.h>

#include "guest_abi.h"

void cryptine_environment_from_boot(void) {
  const char* text = (const char*)(uintptr_t)CRYPTINE_MAILBOX_ADDR;
  size_t at = 0;
  while (at < CRYPTINE_BOOT_ENV_MAX && text[at] != '\0') {
    const char* entry = text + at;
    const size_t len = strnlen(entry, CRYPTINE_BOOT_ENV_MAX - at);
    if (at + len >= CRYPTINE_BOOT_ENV_MAX) return; /* not terminated inside the area */
    char line[CRYPTINE_BOOT_ENV_MAX];
    memcpy(line, entry, len + 1);
    char* eq = strchr(line, '=');
    if (eq != NULL && eq != line) {
      *eq = '\0';
      setenv(line, eq + 1, 1);
    }
    at += len + 1;
  }
}
