// OCPP2.Lite mbedTLS overrides (included last through MBEDTLS_USER_CONFIG_FILE).
//
// On the RP2040 the record buffers come from the MicroPython GC heap (m_tracked_calloc): stock
// 16 KiB in + 4 KiB out made one wss connection cost about 26 kB of a Pico W's ~166 KiB.
// OCPP_TLS_IN_LEN 4096 saves 12 KiB but only works when every TLS record the CSMS sends fits:
// check with `openssl s_client -connect HOST:443 -msg` (largest "TLS 1.2 Handshake"/record) or
// configure the server (nginx: ssl_buffer_size 4k; keep the certificate chain below 4 KiB).
// Build with -DOCPP_TLS_IN_LEN=16384 to keep the standard input size and shrink only the output.
#ifndef OCPP_TLS_IN_LEN
#define OCPP_TLS_IN_LEN 4096
#endif
#ifndef OCPP_TLS_OUT_LEN
#define OCPP_TLS_OUT_LEN 2048
#endif

#undef MBEDTLS_SSL_IN_CONTENT_LEN
#define MBEDTLS_SSL_IN_CONTENT_LEN OCPP_TLS_IN_LEN
#undef MBEDTLS_SSL_OUT_CONTENT_LEN
#define MBEDTLS_SSL_OUT_CONTENT_LEN OCPP_TLS_OUT_LEN
