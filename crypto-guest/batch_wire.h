/* CIPHER_BATCH step lists (guest_abi.h) inside the guest: decoded into a table of steps
 * whose data point into the buffer. Pure, so host tests feed it boundary cases. */
#ifndef CRYPTINE_GUEST_BATCH_WIRE_H
#define CRYPTINE_GUEST_BATCH_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "guest_abi.h"

struct batch_step {
  uint32_t kind; /* CRYPTINE_STEP_* */
  int32_t arg;
  const uint8_t* key; /* INIT: NULL unless given */
  uint32_t key_len;
  const uint8_t* data; /* INIT: the IV (NULL unless given); else the step's data */
  uint32_t length;
};

struct batch_steps {
  struct batch_step steps[CRYPTINE_BATCH_MAX_STEPS];
  int count;
};

/* Decodes buf[0..len): every record inside it, a known kind, INIT's enc 1, 0 or -1 and
 * key length within its data (0 without KEY_GIVEN, all of it without IV_GIVEN), other
 * kinds' arg and aux 0, FINAL without data, no unknown aux bits, at most CRYPTINE_BATCH_MAX_STEPS records.
 * Returns 1, or 0 if malformed (then nothing may be applied). */
int batch_decode(const uint8_t* buf, size_t len, struct batch_steps* out);

#endif
