/* Param lists, guest side. The host wrote them, but the guest still checks every
 * length against the buffer before it builds a pointer from it. */
#include "param_wire.h"

#include <string.h>

static size_t padded(size_t n) { return (n + 7u) & ~(size_t)7u; }

int param_list_decode(uint8_t* buf, size_t len, struct param_list* list) {
  size_t at = 0;
  list->count = 0;
  while (at < len) {
    struct cryptine_param h;
    if (list->count == CRYPTINE_PARAM_MAX || len - at < sizeof(h)) return 0;
    memcpy(&h, buf + at, sizeof(h));
    if (h.name_len == 0 || h.name_len > CRYPTINE_PARAM_NAME_MAX || h.data_len > CRYPTINE_PARAM_DATA_MAX) return 0;
    if (h.type != CRYPTINE_PARAM_INTEGER && h.type != CRYPTINE_PARAM_UNSIGNED && h.type != CRYPTINE_PARAM_UTF8 &&
        h.type != CRYPTINE_PARAM_OCTETS)
      return 0;
    const size_t record = sizeof(h) + padded(h.name_len) + CRYPTINE_PARAM_DATA_ROOM(h.data_len); /* small */
    if (record > len - at) return 0;
    if (memchr(buf + at + sizeof(h), 0, h.name_len) != NULL) return 0; /* names have no NUL */
    uint8_t* data = buf + at + sizeof(h) + padded(h.name_len);
    if (data[h.data_len] != 0) return 0; /* OpenSSL may read text up to a NUL: one must be there */
    char* name = list->names[list->count];
    memcpy(name, buf + at + sizeof(h), h.name_len);
    name[h.name_len] = '\0';
    OSSL_PARAM* p = &list->params[list->count];
    p->key = name;
    p->data_type = h.type;
    p->data = data;
    p->data_size = h.data_len;
    p->return_size = OSSL_PARAM_UNMODIFIED;
    list->header_at[list->count++] = at;
    at += record;
  }
  memset(&list->params[list->count], 0, sizeof(OSSL_PARAM)); /* OSSL_PARAM_END */
  return 1;
}

void param_list_store_sizes(uint8_t* buf, const struct param_list* list) {
  for (int i = 0; i < list->count; ++i) {
    const size_t rs = list->params[i].return_size;
    const uint32_t v = rs == OSSL_PARAM_UNMODIFIED || rs > UINT32_MAX - 1 ? CRYPTINE_PARAM_UNMODIFIED : (uint32_t)rs;
    memcpy(buf + list->header_at[i] + offsetof(struct cryptine_param, return_size), &v, sizeof(v));
  }
}
