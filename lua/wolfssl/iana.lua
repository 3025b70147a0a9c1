-- wolfssl.iana: the TLS registries the trace speaks in (IANA TLS Parameters and TLS
-- ExtensionType Values): number -> name tables, and name -> number for encoding.
local core = require "wolfssl.core"

local M = {}
local floor = math.floor

local function invert(t)
  local r = {}
  for k, v in pairs(t) do r[v] = k end
  return r
end

local HANDSHAKE_TYPES = {
  [0] = "hello_request", [1] = "client_hello", [2] = "server_hello", [3] = "hello_verify_request",
  [4] = "new_session_ticket", [5] = "end_of_early_data", [8] = "encrypted_extensions",
  [11] = "certificate", [12] = "server_key_exchange", [13] = "certificate_request",
  [14] = "server_hello_done", [15] = "certificate_verify", [16] = "client_key_exchange",
  [20] = "finished", [21] = "certificate_url", [22] = "certificate_status", [24] = "key_update",
  [25] = "compressed_certificate", [254] = "message_hash",
}

local VERSIONS = {
  [0x0300] = "SSLv3", [0x0301] = "TLSv1.0", [0x0302] = "TLSv1.1", [0x0303] = "TLSv1.2",
  [0x0304] = "TLSv1.3",
}

local CIPHER_SUITES = {
  [0x1301] = "TLS_AES_128_GCM_SHA256", [0x1302] = "TLS_AES_256_GCM_SHA384",
  [0x1303] = "TLS_CHACHA20_POLY1305_SHA256", [0x1304] = "TLS_AES_128_CCM_SHA256",
  [0x1305] = "TLS_AES_128_CCM_8_SHA256", [0xC0B4] = "TLS_SHA256_SHA256", [0xC0B5] = "TLS_SHA384_SHA384",
  [0x00FF] = "TLS_EMPTY_RENEGOTIATION_INFO_SCSV", [0x5600] = "TLS_FALLBACK_SCSV",
  [0x0001] = "TLS_RSA_WITH_NULL_MD5", [0x0002] = "TLS_RSA_WITH_NULL_SHA", [0x003B] = "TLS_RSA_WITH_NULL_SHA256",
  [0x0004] = "TLS_RSA_WITH_RC4_128_MD5", [0x0005] = "TLS_RSA_WITH_RC4_128_SHA",
  [0x000A] = "TLS_RSA_WITH_3DES_EDE_CBC_SHA", [0x0016] = "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA",
  [0x002F] = "TLS_RSA_WITH_AES_128_CBC_SHA", [0x0033] = "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
  [0x0034] = "TLS_DH_anon_WITH_AES_128_CBC_SHA", [0x0035] = "TLS_RSA_WITH_AES_256_CBC_SHA",
  [0x0039] = "TLS_DHE_RSA_WITH_AES_256_CBC_SHA", [0x003C] = "TLS_RSA_WITH_AES_128_CBC_SHA256",
  [0x003D] = "TLS_RSA_WITH_AES_256_CBC_SHA256", [0x0041] = "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA",
  [0x0045] = "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA", [0x0067] = "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256",
  [0x006B] = "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256", [0x0084] = "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA",
  [0x0088] = "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA", [0x008C] = "TLS_PSK_WITH_AES_128_CBC_SHA",
  [0x008D] = "TLS_PSK_WITH_AES_256_CBC_SHA", [0x009C] = "TLS_RSA_WITH_AES_128_GCM_SHA256",
  [0x009D] = "TLS_RSA_WITH_AES_256_GCM_SHA384", [0x009E] = "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
  [0x009F] = "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", [0x00A6] = "TLS_DH_anon_WITH_AES_128_GCM_SHA256",
  [0x00A8] = "TLS_PSK_WITH_AES_128_GCM_SHA256", [0x00A9] = "TLS_PSK_WITH_AES_256_GCM_SHA384",
  [0x00AA] = "TLS_DHE_PSK_WITH_AES_128_GCM_SHA256", [0x00AB] = "TLS_DHE_PSK_WITH_AES_256_GCM_SHA384",
  [0x00AE] = "TLS_PSK_WITH_AES_128_CBC_SHA256", [0x00AF] = "TLS_PSK_WITH_AES_256_CBC_SHA384",
  [0x00B0] = "TLS_PSK_WITH_NULL_SHA256", [0x00B1] = "TLS_PSK_WITH_NULL_SHA384",
  [0x00B2] = "TLS_DHE_PSK_WITH_AES_128_CBC_SHA256", [0x00B3] = "TLS_DHE_PSK_WITH_AES_256_CBC_SHA384",
  [0x00B4] = "TLS_DHE_PSK_WITH_NULL_SHA256", [0x00B5] = "TLS_DHE_PSK_WITH_NULL_SHA384",
  [0x00BA] = "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA256", [0x00BE] = "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA256",
  [0x00C0] = "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA256", [0x00C4] = "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA256",
  [0xC004] = "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA", [0xC005] = "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA",
  [0xC006] = "TLS_ECDHE_ECDSA_WITH_NULL_SHA", [0xC007] = "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
  [0xC008] = "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA", [0xC009] = "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
  [0xC00A] = "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", [0xC00E] = "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA",
  [0xC00F] = "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA", [0xC010] = "TLS_ECDHE_RSA_WITH_NULL_SHA",
  [0xC011] = "TLS_ECDHE_RSA_WITH_RC4_128_SHA", [0xC012] = "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
  [0xC013] = "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", [0xC014] = "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
  [0xC023] = "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", [0xC024] = "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
  [0xC025] = "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256", [0xC026] = "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA384",
  [0xC027] = "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", [0xC028] = "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
  [0xC029] = "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA256", [0xC02A] = "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA384",
  [0xC02B] = "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", [0xC02C] = "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
  [0xC02D] = "TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256", [0xC02E] = "TLS_ECDH_ECDSA_WITH_AES_256_GCM_SHA384",
  [0xC02F] = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", [0xC030] = "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
  [0xC031] = "TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256", [0xC032] = "TLS_ECDH_RSA_WITH_AES_256_GCM_SHA384",
  [0xC035] = "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA", [0xC036] = "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA",
  [0xC037] = "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256", [0xC038] = "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA384",
  [0xC03A] = "TLS_ECDHE_PSK_WITH_NULL_SHA256", [0xC03B] = "TLS_ECDHE_PSK_WITH_NULL_SHA384",
  [0xC072] = "TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_CBC_SHA256", [0xC073] = "TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_CBC_SHA384",
  [0xC076] = "TLS_ECDHE_RSA_WITH_CAMELLIA_128_CBC_SHA256", [0xC077] = "TLS_ECDHE_RSA_WITH_CAMELLIA_256_CBC_SHA384",
  [0xC09C] = "TLS_RSA_WITH_AES_128_CCM", [0xC09D] = "TLS_RSA_WITH_AES_256_CCM",
  [0xC09E] = "TLS_DHE_RSA_WITH_AES_128_CCM", [0xC09F] = "TLS_DHE_RSA_WITH_AES_256_CCM",
  [0xC0A0] = "TLS_RSA_WITH_AES_128_CCM_8", [0xC0A1] = "TLS_RSA_WITH_AES_256_CCM_8",
  [0xC0A2] = "TLS_DHE_RSA_WITH_AES_128_CCM_8", [0xC0A3] = "TLS_DHE_RSA_WITH_AES_256_CCM_8",
  [0xC0A4] = "TLS_PSK_WITH_AES_128_CCM", [0xC0A5] = "TLS_PSK_WITH_AES_256_CCM",
  [0xC0A6] = "TLS_DHE_PSK_WITH_AES_128_CCM", [0xC0A7] = "TLS_DHE_PSK_WITH_AES_256_CCM",
  [0xC0A8] = "TLS_PSK_WITH_AES_128_CCM_8", [0xC0A9] = "TLS_PSK_WITH_AES_256_CCM_8",
  [0xC0AC] = "TLS_ECDHE_ECDSA_WITH_AES_128_CCM", [0xC0AD] = "TLS_ECDHE_ECDSA_WITH_AES_256_CCM",
  [0xC0AE] = "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8", [0xC0AF] = "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8",
  [0xCCA8] = "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
  [0xCCA9] = "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
  [0xCCAA] = "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", [0xCCAB] = "TLS_PSK_WITH_CHACHA20_POLY1305_SHA256",
  [0xCCAC] = "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256",
  [0xCCAD] = "TLS_DHE_PSK_WITH_CHACHA20_POLY1305_SHA256",
  [0xD001] = "TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256", [0xD002] = "TLS_ECDHE_PSK_WITH_AES_256_GCM_SHA384",
  [0xD003] = "TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256", [0xD005] = "TLS_ECDHE_PSK_WITH_AES_128_CCM_SHA256",
}

local GROUPS = {
  [1] = "sect163k1", [2] = "sect163r1", [3] = "sect163r2", [4] = "sect193r1", [5] = "sect193r2",
  [6] = "sect233k1", [7] = "sect233r1", [8] = "sect239k1", [9] = "sect283k1", [10] = "sect283r1",
  [11] = "sect409k1", [12] = "sect409r1", [13] = "sect571k1", [14] = "sect571r1", [15] = "secp160k1",
  [16] = "secp160r1", [17] = "secp160r2", [18] = "secp192k1", [19] = "secp192r1", [20] = "secp224k1",
  [21] = "secp224r1", [22] = "secp256k1", [23] = "secp256r1", [24] = "secp384r1", [25] = "secp521r1",
  [26] = "brainpoolP256r1", [27] = "brainpoolP384r1", [28] = "brainpoolP512r1", [29] = "x25519",
  [30] = "x448", [31] = "brainpoolP256r1tls13", [32] = "brainpoolP384r1tls13",
  [33] = "brainpoolP512r1tls13", [256] = "ffdhe2048", [257] = "ffdhe3072", [258] = "ffdhe4096",
  [259] = "ffdhe6144", [260] = "ffdhe8192", [0x0200] = "MLKEM512", [0x0201] = "MLKEM768",
  [0x0202] = "MLKEM1024", [0x11EB] = "SecP256r1MLKEM768", [0x11EC] = "X25519MLKEM768",
  [0x11ED] = "SecP384r1MLKEM1024", [0x6399] = "X25519Kyber768Draft00",
}

-- TLS SignatureScheme registry; the TLS 1.2-only (hash, signature) pairs with OpenSSL's names
local SIGNATURE_SCHEMES = {
  [0x0201] = "rsa_pkcs1_sha1", [0x0203] = "ecdsa_sha1", [0x0202] = "dsa_sha1",
  [0x0301] = "rsa_pkcs1_sha224", [0x0302] = "dsa_sha224", [0x0303] = "ecdsa_sha224",
  [0x0401] = "rsa_pkcs1_sha256", [0x0402] = "dsa_sha256", [0x0403] = "ecdsa_secp256r1_sha256",
  [0x0501] = "rsa_pkcs1_sha384", [0x0502] = "dsa_sha384", [0x0503] = "ecdsa_secp384r1_sha384",
  [0x0601] = "rsa_pkcs1_sha512", [0x0602] = "dsa_sha512", [0x0603] = "ecdsa_secp521r1_sha512",
  [0x0804] = "rsa_pss_rsae_sha256", [0x0805] = "rsa_pss_rsae_sha384", [0x0806] = "rsa_pss_rsae_sha512",
  [0x0807] = "ed25519", [0x0808] = "ed448", [0x0809] = "rsa_pss_pss_sha256",
  [0x080A] = "rsa_pss_pss_sha384", [0x080B] = "rsa_pss_pss_sha512",
  [0x081A] = "ecdsa_brainpoolP256r1tls13_sha256", [0x081B] = "ecdsa_brainpoolP384r1tls13_sha384",
  [0x081C] = "ecdsa_brainpoolP512r1tls13_sha512",
}

-- ExtensionType values; ALPN is "alpn" here, as the binding's option is named
local EXTENSIONS = {
  [0] = "server_name", [1] = "max_fragment_length", [2] = "client_certificate_url",
  [3] = "trusted_ca_keys", [4] = "truncated_hmac", [5] = "status_request", [6] = "user_mapping",
  [9] = "cert_type", [10] = "supported_groups", [11] = "ec_point_formats", [12] = "srp",
  [13] = "signature_algorithms", [14] = "use_srtp", [15] = "heartbeat", [16] = "alpn",
  [17] = "status_request_v2", [18] = "signed_certificate_timestamp",
  [19] = "client_certificate_type", [20] = "server_certificate_type", [21] = "padding",
  [22] = "encrypt_then_mac", [23] = "extended_master_secret", [24] = "token_binding",
  [25] = "cached_info", [27] = "compress_certificate", [28] = "record_size_limit",
  [35] = "session_ticket", [41] = "pre_shared_key", [42] = "early_data",
  [43] = "supported_versions", [44] = "cookie", [45] = "psk_key_exchange_modes",
  [47] = "certificate_authorities", [48] = "oid_filters", [49] = "post_handshake_auth",
  [50] = "signature_algorithms_cert", [51] = "key_share", [57] = "quic_transport_parameters",
  [13172] = "next_protocol_negotiation", [17513] = "application_settings",
  [0xFE0D] = "encrypted_client_hello", [0xFF01] = "renegotiation_info",
}

local PSK_MODES = { [0] = "psk_ke", [1] = "psk_dhe_ke" }
local EC_POINT_FORMATS = { [0] = "uncompressed", [1] = "ansiX962_compressed_prime",
  [2] = "ansiX962_compressed_char2" }
local CERT_TYPES = { [1] = "rsa_sign", [2] = "dss_sign", [3] = "rsa_fixed_dh", [4] = "dss_fixed_dh",
  [64] = "ecdsa_sign", [65] = "rsa_fixed_ecdh", [66] = "ecdsa_fixed_ecdh" }
local STATUS_TYPES = { [1] = "ocsp", [2] = "ocsp_multi" }
local KEY_UPDATE = { [0] = "update_not_requested", [1] = "update_requested" }

local ALERTS = {}
for i = 0, 255 do ALERTS[i] = core.alert_name(i) end

M.CERT_TYPES, M.STATUS_TYPES, M.KEY_UPDATE = CERT_TYPES, STATUS_TYPES, KEY_UPDATE

M.names = {
  handshake_types = HANDSHAKE_TYPES, versions = VERSIONS, cipher_suites = CIPHER_SUITES,
  groups = GROUPS, signature_schemes = SIGNATURE_SCHEMES, extensions = EXTENSIONS,
  alerts = ALERTS, psk_key_exchange_modes = PSK_MODES, ec_point_formats = EC_POINT_FORMATS,
}

local CODES = {}
for k, t in pairs(M.names) do CODES[k] = invert(t) end
CODES.certificate_types, CODES.status_types, CODES.key_update = invert(CERT_TYPES), invert(STATUS_TYPES), invert(KEY_UPDATE)
M.codes = CODES

-- RFC 8701: GREASE values are kept as numbers; this tells them apart.
function M.is_grease(n)
  return type(n) == "number" and n % 256 == floor(n / 256) and n % 16 == 10
end

local HRR_RANDOM = "\207\33\173\116\229\154\97\17\190\29\140\2\30\101\184\145"
  .. "\194\162\17\22\122\187\140\94\7\158\9\226\200\168\51\156"
M.HRR_RANDOM = HRR_RANDOM


return M
