/*
 * (Named bounds.h, not limits.h, which would shadow the system header.)
 * Every network-facing size and time limit in one place, so that a reader can
 * see what cmhook will accept and a reviewer can check that each one is
 * enforced (STYLE: "everything is bounded").
 */
#ifndef CMH_BOUNDS_H
#define CMH_BOUNDS_H

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
#define CMH_MAX_BODY_SETTING        (64 * 1024 * 1024) /* ceiling for MAX_BODY */

/* Webhook receiver (webhook.c, sig.c, keycache.c) */
#define CMH_CHALLENGE_MAX_LEN       256      /* echoed challenge value */
#define CMH_WEBHOOK_MAX_BATCH       100      /* events per delivery (Adobe: up to 20) */
#define CMH_WEBHOOK_MAX_ID_LEN      128      /* event id, recipient client id */
#define CMH_WEBHOOK_MAX_FIELD_LEN   2048     /* URN, object URL, published, types */
#define CMH_WEBHOOK_MAX_DEPTH       32       /* JSON nesting (objects + arrays) */
#define CMH_KEYCACHE_TTL_MS         (24 * 3600 * 1000LL) /* Adobe: cache keys <= 24 h */
#define CMH_KEYCACHE_MAX_ENTRIES    16
#define CMH_KEY_FETCH_CONNECT_TIMEOUT_MS 2000
#define CMH_KEY_FETCH_TIMEOUT_MS    4000     /* two fetches must fit Adobe's 10 s */

#endif
