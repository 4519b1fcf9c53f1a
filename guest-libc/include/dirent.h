/* cryptine guest: <dirent.h>. newlib's own answers "not supported" with #error for a
 * target without an OS; OpenSSL's directory walker (crypto/LPdir_unix.c, used by the
 * file store and by_dir lookups) only needs these names to compile. There is no file
 * system: opendir() fails with ENOSYS (guest-libc/syscalls.c), so no DIR ever exists.
 * This folder must come before newlib's include folder (-I before -isystem). */
#ifndef CRYPTINE_GUEST_DIRENT_H
#define CRYPTINE_GUEST_DIRENT_H

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MAXNAMLEN 255

struct dirent {
  ino_t d_ino;
  char d_name[MAXNAMLEN + 1];
};

typedef struct cryptine_dir DIR; /* opaque, never allocated */

DIR* opendir(const char* path);
struct dirent* readdir(DIR* dir);
int closedir(DIR* dir);
void rewinddir(DIR* dir);

#ifdef __cplusplus
}
#endif

#endif /* CRYPTINE_GUEST_DIRENT_H */
