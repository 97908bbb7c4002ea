/* placeholder until the CLI lands */
#include <stdio.h>
int main(void) { puts("cmhook"); return 0; }
