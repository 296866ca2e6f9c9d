/*
 * zlib-format (RFC 1950) compression through libdeflate, for the compress workers of
 * cvmfs-image-sync. libdeflate only compresses whole buffers, which is why the API is one call:
 * the caller holds an object's content whole and gives an output buffer of at least
 * zlibCompressBound() bytes.
 *
 * Each Node.js environment (the main thread and every worker thread) gets its own compressors,
 * one per level, made on first use and freed with the environment: a libdeflate compressor is
 * not thread-safe, and setting one up costs far more than compressing a small file.
 */
#include <libdeflate.h>
#include <node_api.h>
#include <stddef.h>
#include <stdlib.h>

#define MAX_LEVEL 12

typedef struct {
  struct libdeflate_compressor *by_level[MAX_LEVEL + 1];
} Instance;

static void free_instance(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  Instance *inst = data;
  for (int i = 0; i <= MAX_LEVEL; i++) libdeflate_free_compressor(inst->by_level[i]);
  free(inst);
}

static napi_value fail(napi_env env, const char *msg) {
  napi_throw_error(env, "E_LIBDEFLATE", msg);
  return NULL;
}

static struct libdeflate_compressor *compressor(napi_env env, int level) {
  Instance *inst = NULL;
  if (napi_get_instance_data(env, (void **)&inst) != napi_ok || inst == NULL) return NULL;
  if (inst->by_level[level] == NULL) inst->by_level[level] = libdeflate_alloc_compressor(level);
  return inst->by_level[level];
}

/* The bytes of a Uint8Array (a Buffer included), honouring its offset into the ArrayBuffer. */
static int bytes_of(napi_env env, napi_value v, unsigned char **data, size_t *len) {
  napi_typedarray_type type;
  void *base = NULL;
  size_t length = 0;
  napi_value ab;
  size_t offset = 0;
  bool is_ta = false;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta) return 0;
  if (napi_get_typedarray_info(env, v, &type, &length, &base, &ab, &offset) != napi_ok) return 0;
  if (type != napi_uint8_array) return 0;
  /* base already points at the first element of the view. */
  *data = base;
  *len = length;
  return 1;
}

static int level_of(napi_env env, napi_value v, int *level) {
  int32_t l = 0;
  if (napi_get_value_int32(env, v, &l) != napi_ok || l < 0 || l > MAX_LEVEL) return 0;
  *level = l;
  return 1;
}

/* zlibCompress(input: Uint8Array, output: Uint8Array, level: number): bytes written, 0 when output is too small. */
static napi_value zlib_compress(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3) return fail(env, "zlibCompress(input, output, level)");
  unsigned char *in = NULL, *out = NULL;
  size_t in_len = 0, out_len = 0;
  int level = 0;
  if (!bytes_of(env, argv[0], &in, &in_len)) return fail(env, "input must be a Uint8Array");
  if (!bytes_of(env, argv[1], &out, &out_len)) return fail(env, "output must be a Uint8Array");
  if (!level_of(env, argv[2], &level)) return fail(env, "level must be an integer from 0 to 12");
  struct libdeflate_compressor *c = compressor(env, level);
  if (c == NULL) return fail(env, "libdeflate_alloc_compressor failed");
  size_t n = libdeflate_zlib_compress(c, in, in_len, out, out_len);
  napi_value result;
  napi_create_double(env, (double)n, &result);
  return result;
}

/* zlibCompressBound(length: number, level: number): the output size that always suffices. */
static napi_value zlib_compress_bound(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2) return fail(env, "zlibCompressBound(length, level)");
  double length = 0;
  int level = 0;
  if (napi_get_value_double(env, argv[0], &length) != napi_ok || length < 0) return fail(env, "length must be a non-negative number");
  if (!level_of(env, argv[1], &level)) return fail(env, "level must be an integer from 0 to 12");
  struct libdeflate_compressor *c = compressor(env, level);
  if (c == NULL) return fail(env, "libdeflate_alloc_compressor failed");
  napi_value result;
  napi_create_double(env, (double)libdeflate_zlib_compress_bound(c, (size_t)length), &result);
  return result;
}

NAPI_MODULE_INIT() {
  Instance *inst = calloc(1, sizeof(Instance));
  if (inst == NULL || napi_set_instance_data(env, inst, free_instance, NULL) != napi_ok) {
    free(inst);
    napi_throw_error(env, "E_LIBDEFLATE", "cannot set up the addon's instance data");
    return NULL;
  }
  napi_property_descriptor props[] = {
    {"zlibCompress", NULL, zlib_compress, NULL, NULL, NULL, napi_enumerable, NULL},
    {"zlibCompressBound", NULL, zlib_compress_bound, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  napi_value version;
  napi_create_string_utf8(env, LIBDEFLATE_VERSION_STRING, NAPI_AUTO_LENGTH, &version);
  napi_set_named_property(env, exports, "version", version);
  return exports;
}
