/* The catalog's entries by name (rnnc_catalog.h): the lookups the runtime,
 * the driver and the reference runtime share. */
#include <string.h>

#include "rnnc.h"

int rnnc_catalog_word_in(const char *word, const char *list) {
  size_t len = strlen(word);
  for (const char *p = list; *p;) {
    size_t n = strcspn(p, " ");
    if (n == len && strncmp(p, word, n) == 0)
      return 1;
    p += n;
    while (*p == ' ')
      ++p;
  }
  return 0;
}

rnnc_loss_kind rnnc_loss_named(const char *name) {
#define LOSS(id, NAME, token, lname, aliases, labels, fused, logits)                               \
  if (strcmp(name, lname) == 0 || rnnc_catalog_word_in(name, aliases))                             \
    return RNNC_LOSS_##NAME;
  RNNC_LOSSES(LOSS)
#undef LOSS
  return RNNC_LOSS_NONE;
}

rnnc_optimizer_kind rnnc_optimizer_named(const char *name) {
  char lower[32];
  size_t i = 0;
  for (; name[i] && i + 1 < sizeof lower; ++i)
    lower[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] - 'A' + 'a' : name[i]);
  lower[i] = '\0';
  if (name[i])
    return (rnnc_optimizer_kind)0; /* longer than any name */
#define OPT(id, NAME, oname, cls)                                                                  \
  if (strcmp(lower, #oname) == 0)                                                                  \
    return RNNC_OPT_##NAME;
  RNNC_OPTIMIZERS(OPT)
#undef OPT
  return (rnnc_optimizer_kind)0;
}
