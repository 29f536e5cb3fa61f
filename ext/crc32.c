/*
** crc32.c: the CRC-32 of a model BLOB's trailer (IEEE 802.3, reflected,
** as zlib's crc32), eight bytes at a time ("slicing by 8", Kounavis and
** Berry): eight table lookups fold a little-endian 64-bit word, where a
** byte at a time is a lookup and a shift per byte, a serial chain.  Every
** decode of a BLOB checks its sum and every encode writes one (a GROUP BY
** encodes a model per group): about 1.3 instructions a byte here against 9.
** The tables come from tools/crc32_tables.py (crc32_tables.h).
*/
#include <string.h>

#include "model.h"

#include "crc32_tables.h"

uint32_t ml_crc32(const unsigned char *z, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  size_t i = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, z + i, 8);
    w ^= c;
    c = crc_tables[7][w & 0xFF] ^ crc_tables[6][(w >> 8) & 0xFF] ^ crc_tables[5][(w >> 16) & 0xFF] ^
        crc_tables[4][(w >> 24) & 0xFF] ^ crc_tables[3][(w >> 32) & 0xFF] ^
        crc_tables[2][(w >> 40) & 0xFF] ^ crc_tables[1][(w >> 48) & 0xFF] ^ crc_tables[0][w >> 56];
  }
#endif
  for (; i < n; i++) c = (c >> 8) ^ crc_tables[0][(c ^ z[i]) & 0xFF];
  return c ^ 0xFFFFFFFFu;
}
