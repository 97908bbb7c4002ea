/*
 * Every network-facing size and time limit in one place, so that a reader can
 * see what cmhook will accept and a reviewer can check that each one is
 * enforced (STYLE: "everything is bounded").
 */
#ifndef CMH_LIMITS_H
#define CMH_LIMITS_H

/* HTTP client */
#define CMH_HTTP_CONNECT_TIMEOUT_MS 5000
#define CMH_HTTP_TIMEOUT_MS         15000
#define CMH_MAX_IMS_RESPONSE        (64 * 1024)
#define CMH_MAX_API_RESPONSE        (1024 * 1024)
#define CMH_MAX_KEY_RESPONSE        (16 * 1024)
#define CMH_MAX_CHANNEL_RESPONSE    (64 * 1024)

/* IMS token */
#define CMH_TOKEN_MAX_LEN           (16 * 1024)
#define CMH_IMS_MAX_ATTEMPTS        4
#define CMH_IMS_BACKOFF_INITIAL_MS  500
#define CMH_IMS_BACKOFF_MAX_MS      8000
#define CMH_IMS_RETRY_AFTER_MAX_MS  30000

/* Configuration */
#define CMH_MAX_DOTENV_FILE         (1024 * 1024)
#define CMH_MAX_SECRET_FILE         (64 * 1024)

#endif
