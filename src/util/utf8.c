#include "util/utf8.h"

int utf8_check(const uint8_t *s, size_t len, size_t *bad_at)
{
	size_t i = 0;

	while (i < len) {
		uint8_t c = s[i];
		size_t n;
		uint8_t lo = 0x80, hi = 0xbf; /* allowed range of the 2nd byte */

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 2;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 3;
			if (c == 0xe0)
				lo = 0xa0; /* overlong below U+0800 */
			else if (c == 0xed)
				hi = 0x9f; /* surrogates */
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 4;
			if (c == 0xf0)
				lo = 0x90; /* overlong below U+10000 */
			else if (c == 0xf4)
				hi = 0x8f; /* above U+10FFFF */
		} else {
			goto bad; /* 0x80..0xc1 (continuation, overlong lead), 0xf5..0xff */
		}
		if (len - i < n)
			goto bad;
		if (s[i + 1] < lo || s[i + 1] > hi)
			goto bad;
		for (size_t k = 2; k < n; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				goto bad;
		i += n;
	}
	return 1;
bad:
	if (bad_at)
		*bad_at = i;
	return 0;
}

int utf8_valid(const uint8_t *s, size_t len)
{
	return utf8_check(s, len, NULL);
}
