/* Keeps cmhook_testlib non-empty whatever tests/integration/lib holds. */
int cmh_testlib_stub(void);
int cmh_testlib_stub(void) { return 0; }
