#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "version")) {
		puts("yesapp 0.1.0");
		return 0;
	}
	fprintf(stderr, "usage: yesapp version\n");
	return 2;
}
