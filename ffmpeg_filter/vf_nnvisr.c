/*
 * Copyright (c) 2026 the nnvisr authors
 *
 * This file is part of FFmpeg.
 *
 * FFmpeg is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Lesser General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 *
 * FFmpeg is distributed in the hope that it will be useful,
 * but WITHOUT ANY WARRANTY; without even the implied warranty of
 * MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the GNU
 * Lesser General Public License for more details.
 *
 * You should have received a copy of the GNU Lesser General Public
 * License along with FFmpeg; if not, write to the Free Software
 * Foundation, Inc., 51 Franklin Street, Fifth Floor, Boston, MA 02110-1301 USA
 */

/**
 * @file
 * Neural video enhancement (super resolution, denoising, interpolation)
 * with any ONNX network that works on a group of frames.
 *
 * The filter holds no policy. It loads the nnvisr bridge (a shared library
 * embedding Python) at init, hands input frames over as plane pointers and
 * fills output frames allocated here. Frame grouping, scene cuts, models,
 * inference and output timestamps all live in the bridge.
 */

#include <dlfcn.h>
#include <float.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libavutil/avstring.h"
#include "libavutil/fifo.h"
#include "libavutil/imgutils.h"
#include "libavutil/mem.h"
#include "libavutil/opt.h"
#include "libavutil/pixdesc.h"
#include "libswscale/swscale.h"

#include "avfilter.h"
#include "filters.h"
#include "formats.h"
#include "video.h"

#include "nnvisr_bridge.h"

#define BRIDGE_NAME "libnnvisr_bridge.so"
#define MAX_PIX_FMTS 32
/* Conversions between the link's format and the network's. Accurate rounding:
 * without it a yuv420p -> RGB -> yuv420p round trip is off by 1.05 code values
 * of luma on average, with it by 0.001 (README, "Pixel formats"). */
#define SWS_ACCURATE (SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT)

enum OutFormat { OUT_FORMAT_INPUT, OUT_FORMAT_MODEL };

typedef struct NNVISRBridge {
    int  (*abi_version)(void);
    int  (*create)(const char *const *options, nnvisr_log_fn log, void *log_opaque,
                   int64_t *handle);
    int  (*pix_fmts)(int64_t handle, char *buf, int buf_size);
    int  (*configure)(int64_t handle, NNVISRLinkConfig *cfg);
    int  (*push)(int64_t handle, const NNVISRFrame *frame);
    int  (*flush)(int64_t handle, int64_t eof_pts, int64_t *out_eof_pts);
    int  (*pull)(int64_t handle, NNVISRFrame *frame);
    int  (*destroy)(int64_t handle);
} NNVISRBridge;

/* Properties of an input frame, kept until the outputs made from it are sent;
 * with keep_sources, the frame itself (a reference). */
typedef struct PendingProps {
    int64_t seq;
    AVFrame *props;
} PendingProps;

typedef struct NNVISRContext {
    const AVClass *class;

    /* options; -1 (0 for scale factors, NULL for strings) means "from the
     * model": only the others are handed over, so nnvisr.json supplies these
     * and a value given on the command line always wins */
    double scale_factor, scale_factor_h;
    int input_count, feature_count, extraction_layers;
    int interpolation, extra_frame, double_frame;
    int batch_size_fusion, batch_size_extract;
    int use_fp16, low_mem, raw_norm;
    char *norm_mean, *norm_std;
    char *model, *model_path, *engine_path;
    int backend, device, threads, pixels;
    char *scene_key;
    double scene_threshold;
    int scene;
    int alignment;
    char *tile;
    int tile_overlap, max_memory;
    char *bridge_path;

    NNVISRBridge bridge;
    int64_t handle;
    int have_handle;
    int out_format;
    int pix_fmts[MAX_PIX_FMTS + 1];      /* the network's formats */
    int *link_fmts;                      /* what the links take: those, then what swscale converts */
    enum AVPixelFormat model_fmt;        /* the format the bridge works in */
    struct SwsContext *sws_in, *sws_out; /* link <-> model format, when they differ */
    AVFrame *model_in, *model_out;       /* frames in the model's format */
    int warned_interlaced;
    char scene_meta_key[sizeof(((NNVISRLinkConfig *)0)->scene_key)];
    char presence_meta_key[sizeof(((NNVISRLinkConfig *)0)->presence_key)];
    int in_w, in_h;                 ///< input size and format the model is configured for
    enum AVPixelFormat in_format;
    int64_t next_seq;
    AVFifo *pending;
    int eof;
    int refused;                    ///< error to return: a frame did not match the configuration
    int keep_sources;               ///< input frames are kept whole: some outputs are input frames unchanged
} NNVISRContext;

#define OFFSET(x) offsetof(NNVISRContext, x)
#define FLAGS AV_OPT_FLAG_VIDEO_PARAM | AV_OPT_FLAG_FILTERING_PARAM

static const AVOption nnvisr_options[] = {
    { "model",              "model package: a directory with nnvisr.json, an .onnx file, or a folder name under model_path (default: the bundled model)", OFFSET(model), AV_OPT_TYPE_STRING, { .str = NULL }, 0, 0, FLAGS },
    { "model_path",         "root folder of upstream NNVISR two-stage models (models/<model>/<colour space>/)", OFFSET(model_path), AV_OPT_TYPE_STRING, { .str = NULL }, 0, 0, FLAGS },
    { "engine_path",        "folder caching built TensorRT engines", OFFSET(engine_path), AV_OPT_TYPE_STRING, { .str = NULL }, 0, 0, FLAGS },
    { "scale_factor",       "width scale of the network (0: from the model)", OFFSET(scale_factor), AV_OPT_TYPE_DOUBLE, { .dbl = 0 }, 0, 16, FLAGS },
    { "scale_factor_h",     "height scale of the network (0: scale_factor)", OFFSET(scale_factor_h), AV_OPT_TYPE_DOUBLE, { .dbl = 0 }, 0, 16, FLAGS },
    { "input_count",        "frames the network takes per window, as upstream NNVISR counts them (-1: from the model)", OFFSET(input_count), AV_OPT_TYPE_INT, { .i64 = -1 }, -1, 64, FLAGS },
    { "feature_count",      "channels of every feature level of a two-stage model (-1: from the model)", OFFSET(feature_count), AV_OPT_TYPE_INT, { .i64 = -1 }, -1, 4096, FLAGS },
    { "extraction_layers",  "feature pyramid levels of a two-stage model (-1: from the model)", OFFSET(extraction_layers), AV_OPT_TYPE_INT, { .i64 = -1 }, -1, 16, FLAGS },
    { "interpolation",      "the network interpolates: output has twice the frame rate", OFFSET(interpolation), AV_OPT_TYPE_BOOL, { .i64 = -1 }, -1, 1, FLAGS },
    { "extra_frame",        "the last of a window's input_count frames is the first of the next (a window consumes input_count-1)", OFFSET(extra_frame), AV_OPT_TYPE_BOOL, { .i64 = -1 }, -1, 1, FLAGS },
    { "double_frame",       "the network outputs two frames per consumed frame (needs interpolation)", OFFSET(double_frame), AV_OPT_TYPE_BOOL, { .i64 = -1 }, -1, 1, FLAGS },
    { "batch_size_fusion",  "windows per network run (-1: from the model, else 1)", OFFSET(batch_size_fusion), AV_OPT_TYPE_INT, { .i64 = -1 }, -1, 256, FLAGS },
    { "batch_size_extract", "frames per feature extraction run, a multiple of batch_size_fusion*(input_count-extra_frame) (-1: that product)", OFFSET(batch_size_extract), AV_OPT_TYPE_INT, { .i64 = -1 }, -1, 4096, FLAGS },
    { "use_fp16",           "run the network in half precision", OFFSET(use_fp16), AV_OPT_TYPE_BOOL, { .i64 = -1 }, -1, 1, FLAGS },
    { "low_mem",            "trade speed for less GPU memory when building engines", OFFSET(low_mem), AV_OPT_TYPE_BOOL, { .i64 = -1 }, -1, 1, FLAGS },
    { "norm_mean",          "per channel RGB mean, as 'r|g|b' (default 0, upstream's for two-stage models)", OFFSET(norm_mean), AV_OPT_TYPE_STRING, { .str = NULL }, 0, 0, FLAGS },
    { "norm_std",           "per channel RGB standard deviation, as 'r|g|b' (default 1, upstream's for two-stage models)", OFFSET(norm_std), AV_OPT_TYPE_STRING, { .str = NULL }, 0, 0, FLAGS },
    { "raw_norm",           "apply norm_mean/norm_std to raw code values instead of [0,1]", OFFSET(raw_norm), AV_OPT_TYPE_BOOL, { .i64 = -1 }, -1, 1, FLAGS },
    { "backend",            "inference backend (-1: from the model, else auto)", OFFSET(backend), AV_OPT_TYPE_INT, { .i64 = -1 }, -1, 3, FLAGS, .unit = "backend" },
        { "auto",        "TensorRT, then ONNX Runtime CUDA, then ONNX Runtime CPU", 0, AV_OPT_TYPE_CONST, { .i64 = 0 }, 0, 0, FLAGS, .unit = "backend" },
        { "onnxruntime", "ONNX Runtime on the CPU",                              0, AV_OPT_TYPE_CONST, { .i64 = 1 }, 0, 0, FLAGS, .unit = "backend" },
        { "tensorrt",    "NVIDIA TensorRT",                                      0, AV_OPT_TYPE_CONST, { .i64 = 2 }, 0, 0, FLAGS, .unit = "backend" },
        { "cuda",        "ONNX Runtime on an NVIDIA GPU (CUDA execution provider)", 0, AV_OPT_TYPE_CONST, { .i64 = 3 }, 0, 0, FLAGS, .unit = "backend" },
    { "device",             "GPU index for GPU backends (-1: from the model, else 0)", OFFSET(device), AV_OPT_TYPE_INT, { .i64 = -1 }, -1, 64, FLAGS },
    { "pixels",             "where 8-bit planar RGB frames are converted to and from network tensors (-1: from the model, else auto)", OFFSET(pixels), AV_OPT_TYPE_INT, { .i64 = -1 }, -1, 2, FLAGS, .unit = "pixels" },
        { "auto",        "in the network on a GPU, else on the host",             0, AV_OPT_TYPE_CONST, { .i64 = 0 }, 0, 0, FLAGS, .unit = "pixels" },
        { "host",        "by nnvisr on the CPU",                                  0, AV_OPT_TYPE_CONST, { .i64 = 1 }, 0, 0, FLAGS, .unit = "pixels" },
        { "model",       "by nodes merged into the network, where it runs",       0, AV_OPT_TYPE_CONST, { .i64 = 2 }, 0, 0, FLAGS, .unit = "pixels" },
    { "threads",            "CPU threads for the onnxruntime backend (0: every CPU the process may use; -1: from the model, else 0)", OFFSET(threads), AV_OPT_TYPE_INT, { .i64 = -1 }, -1, 1024, FLAGS },
    { "scene_key",          "frame metadata key marking a scene change (default lavfi.scd.time, set by scdet)", OFFSET(scene_key), AV_OPT_TYPE_STRING, { .str = NULL }, 0, 0, FLAGS },
    { "scene_threshold",    "when > 0, scene_key holds a score and a scene starts where it reaches this value (-1: from the model, else 0)", OFFSET(scene_threshold), AV_OPT_TYPE_DOUBLE, { .dbl = -1 }, -1, DBL_MAX, FLAGS },
    { "scene",              "where scene cuts come from; windows never cross one (-1: from the model, else auto)", OFFSET(scene), AV_OPT_TYPE_INT, { .i64 = -1 }, -1, 2, FLAGS, .unit = "scene" },
        { "auto",        "scene_key's metadata when set or when frames carry scdet's, else detected here with scdet's measure (threshold scene_threshold, else 10)", 0, AV_OPT_TYPE_CONST, { .i64 = 0 }, 0, 0, FLAGS, .unit = "scene" },
        { "metadata",    "only scene_key's metadata (put scdet in front)",       0, AV_OPT_TYPE_CONST, { .i64 = 1 }, 0, 0, FLAGS, .unit = "scene" },
        { "off",         "none: windows span every frame",                       0, AV_OPT_TYPE_CONST, { .i64 = 2 }, 0, 0, FLAGS, .unit = "scene" },
    { "alignment",          "the network takes sizes that are multiples of this: pad by edge replication, crop back (-1: from the model)", OFFSET(alignment), AV_OPT_TYPE_INT, { .i64 = -1 }, -1, 1024, FLAGS },
    { "tile",               "run frames in tiles of WxH input pixels, bounding memory by the tile (default: whole frames)", OFFSET(tile), AV_OPT_TYPE_STRING, { .str = NULL }, 0, 0, FLAGS },
    { "tile_overlap",       "input pixels of context around each tile; the output equals untiled when the network's receptive field fits (-1: from the model, else 16)", OFFSET(tile_overlap), AV_OPT_TYPE_INT, { .i64 = -1 }, -1, 1024, FLAGS },
    { "max_memory",         "memory budget in MiB: choose the largest tile whose measured estimate fits (-1: from the model, else none)", OFFSET(max_memory), AV_OPT_TYPE_INT, { .i64 = -1 }, -1, 1000000, FLAGS },
    { "out_format",         "pixel format of the output", OFFSET(out_format), AV_OPT_TYPE_INT, { .i64 = OUT_FORMAT_INPUT }, 0, 1, FLAGS, .unit = "out_format" },
        { "input",       "the input's, converted back from the network's if they differ", 0, AV_OPT_TYPE_CONST, { .i64 = OUT_FORMAT_INPUT }, 0, 0, FLAGS, .unit = "out_format" },
        { "model",       "the network's (e.g. gbrp for an RGB model)",             0, AV_OPT_TYPE_CONST, { .i64 = OUT_FORMAT_MODEL }, 0, 0, FLAGS, .unit = "out_format" },
    { "bridge",             "path of " BRIDGE_NAME " (default: $NNVISR_BRIDGE, then next to ffmpeg, then the library path)", OFFSET(bridge_path), AV_OPT_TYPE_STRING, { .str = NULL }, 0, 0, FLAGS },
    { NULL }
};

AVFILTER_DEFINE_CLASS(nnvisr);

static void bridge_log(void *opaque, int level, const char *msg)
{
    av_log(opaque, level, "%s\n", msg);
}

/* Options the filter handles itself; the others go to the bridge. */
static int is_filter_option(const char *name)
{
    return !strcmp(name, "bridge") || !strcmp(name, "out_format");
}

static void free_options(char ***pairs)
{
    for (char **p = *pairs; p && *p; p++)
        av_free(*p);
    av_freep(pairs);
}

/* The options set on the filter as name/value string pairs ending with NULL:
 * a value crosses to the bridge as it is, whatever characters it holds.
 * Options left at their "from the model" default are not handed over, so the
 * model's nnvisr.json supplies them; the option table is the single list. */
static int collect_options(AVFilterContext *ctx, char ***pairs)
{
    NNVISRContext *s = ctx->priv;
    const AVOption *o = NULL;
    int nb = 0, ret;
    char **list;

    while ((o = av_opt_next(s, o)))
        nb++;
    if (!(list = av_calloc(2 * nb + 1, sizeof(*list))))
        return AVERROR(ENOMEM);
    *pairs = list;

    while ((o = av_opt_next(s, o))) {
        if (o->type == AV_OPT_TYPE_CONST || is_filter_option(o->name) ||
            av_opt_is_set_to_default_by_name(s, o->name, 0) > 0)
            continue;
        if (!(*list++ = av_strdup(o->name)))
            goto fail;
        if (o->unit) {
            /* hand over the constant's name, not its number */
            const AVOption *c = NULL;
            int64_t v;
            if ((ret = av_opt_get_int(s, o->name, 0, &v)) < 0)
                goto fail_ret;
            while ((c = av_opt_next(s, c)))
                if (c->type == AV_OPT_TYPE_CONST && !strcmp(c->unit, o->unit) &&
                    c->default_val.i64 == v)
                    break;
            if (!(*list++ = av_strdup(c ? c->name : "?")))
                goto fail;
            continue;
        }
        if ((ret = av_opt_get(s, o->name, 0, (uint8_t **)list++)) < 0)
            goto fail_ret;
    }
    return 0;
fail:
    ret = AVERROR(ENOMEM);
fail_ret:
    free_options(pairs);
    return ret;
}

/* Logs dlerror()'s text at log_level on failure: it can be read only once. */
static void *open_library(AVFilterContext *ctx, const char *path, int log_level)
{
    /* RTLD_GLOBAL: Python extension modules resolve libpython's symbols
     * through the global scope. RTLD_NODELETE: an embedded interpreter
     * cannot be unloaded. */
    void *lib = dlopen(path, RTLD_NOW | RTLD_GLOBAL | RTLD_NODELETE);
    if (!lib) {
        const char *error = dlerror();
        av_log(ctx, log_level, "Cannot load the nnvisr bridge %s: %s\n",
               path, error ? error : "unknown error");
    }
    return lib;
}

static void *load_bridge_library(AVFilterContext *ctx)
{
    NNVISRContext *s = ctx->priv;
    const char *env = getenv("NNVISR_BRIDGE");
    char exe[PATH_MAX], path[PATH_MAX + sizeof("/../lib/nnvisr/" BRIDGE_NAME)];
    ssize_t len;
    void *lib;

    if (s->bridge_path || (env && *env)) {
        return open_library(ctx, s->bridge_path ? s->bridge_path : env, AV_LOG_ERROR);
    }

    /* setup installs the bridge at <prefix>/lib/nnvisr/ beside <prefix>/bin/ffmpeg */
    len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (len > 0) {
        char *slash;
        exe[len] = 0;
        if ((slash = strrchr(exe, '/'))) {
            *slash = 0;
            snprintf(path, sizeof(path), "%s/../lib/nnvisr/" BRIDGE_NAME, exe);
            if ((lib = open_library(ctx, path, AV_LOG_DEBUG)))
                return lib;
        }
    }
    if ((lib = open_library(ctx, BRIDGE_NAME, AV_LOG_DEBUG)))
        return lib;

    av_log(ctx, AV_LOG_ERROR, "Cannot find the nnvisr bridge " BRIDGE_NAME ": set the "
           "bridge option or NNVISR_BRIDGE to its path "
           "(`python -m nnvisr_core bridge-path` prints it).\n");
    return NULL;
}

static int load_bridge(AVFilterContext *ctx)
{
    NNVISRContext *s = ctx->priv;
    NNVISRBridge *b = &s->bridge;
    void *lib = load_bridge_library(ctx);
    int abi;

    if (!lib)
        return AVERROR(ENOENT);

#define LOAD_SYMBOL(field, name)                                               \
    if (!(*(void **)&b->field = dlsym(lib, name))) {                           \
        av_log(ctx, AV_LOG_ERROR, "The nnvisr bridge lacks %s: %s\n",          \
               name, dlerror());                                               \
        return AVERROR(EINVAL);                                                \
    }
    LOAD_SYMBOL(abi_version, "nnvisr_abi_version");
    LOAD_SYMBOL(create,      "nnvisr_create");
    LOAD_SYMBOL(pix_fmts,    "nnvisr_pix_fmts");
    LOAD_SYMBOL(configure,   "nnvisr_configure");
    LOAD_SYMBOL(push,        "nnvisr_push");
    LOAD_SYMBOL(flush,       "nnvisr_flush");
    LOAD_SYMBOL(pull,        "nnvisr_pull");
    LOAD_SYMBOL(destroy,     "nnvisr_destroy");
#undef LOAD_SYMBOL

    /* the first call starts the embedded interpreter; 0 means it failed */
    abi = b->abi_version();
    if (abi != NNVISR_BRIDGE_ABI) {
        if (abi == 0)
            av_log(ctx, AV_LOG_ERROR, "The nnvisr bridge could not start Python "
                   "(see the messages above).\n");
        else
            av_log(ctx, AV_LOG_ERROR, "The nnvisr bridge speaks interface %d, this "
                   "filter %d: rebuild one of them.\n", abi, NNVISR_BRIDGE_ABI);
        return AVERROR(EINVAL);
    }
    return 0;
}

static int parse_pix_fmts(AVFilterContext *ctx, const char *names)
{
    NNVISRContext *s = ctx->priv;
    char *list = av_strdup(names), *saveptr = NULL, *name;
    int nb = 0;

    if (!list)
        return AVERROR(ENOMEM);
    for (name = av_strtok(list, "|", &saveptr); name && nb < MAX_PIX_FMTS;
         name = av_strtok(NULL, "|", &saveptr)) {
        enum AVPixelFormat fmt = av_get_pix_fmt(name);
        if (fmt == AV_PIX_FMT_NONE)
            av_log(ctx, AV_LOG_VERBOSE, "Pixel format %s unknown to this FFmpeg, skipped.\n", name);
        else
            s->pix_fmts[nb++] = fmt;
    }
    av_free(list);
    s->pix_fmts[nb] = AV_PIX_FMT_NONE;
    if (!nb) {
        av_log(ctx, AV_LOG_ERROR, "The model takes no pixel format this FFmpeg knows (%s).\n", names);
        return AVERROR(EINVAL);
    }
    return 0;
}

static int is_model_fmt(const NNVISRContext *s, enum AVPixelFormat fmt)
{
    for (int i = 0; s->pix_fmts[i] != AV_PIX_FMT_NONE; i++)
        if (s->pix_fmts[i] == fmt)
            return 1;
    return 0;
}

/* The network's formats first, then every software format swscale reads and
 * writes: a conversion done here is the accurate one, and the output can go
 * back to the input's format. */
static int make_link_fmts(AVFilterContext *ctx)
{
    NNVISRContext *s = ctx->priv;
    const AVPixFmtDescriptor *desc = NULL;
    int nb = 0;

    s->link_fmts = av_malloc_array(MAX_PIX_FMTS + AV_PIX_FMT_NB + 1, sizeof(*s->link_fmts));
    if (!s->link_fmts)
        return AVERROR(ENOMEM);
    for (int i = 0; s->pix_fmts[i] != AV_PIX_FMT_NONE; i++)
        s->link_fmts[nb++] = s->pix_fmts[i];
    while ((desc = av_pix_fmt_desc_next(desc))) {
        enum AVPixelFormat fmt = av_pix_fmt_desc_get_id(desc);
        if (desc->flags & (AV_PIX_FMT_FLAG_HWACCEL | AV_PIX_FMT_FLAG_BITSTREAM | AV_PIX_FMT_FLAG_PAL))
            continue;
        if (sws_isSupportedInput(fmt) && sws_isSupportedOutput(fmt) && !is_model_fmt(s, fmt))
            s->link_fmts[nb++] = fmt;
    }
    s->link_fmts[nb] = AV_PIX_FMT_NONE;
    return 0;
}

static av_cold int init(AVFilterContext *ctx)
{
    NNVISRContext *s = ctx->priv;
    char **options = NULL;
    char names[1024];
    int ret;

    s->pending = av_fifo_alloc2(8, sizeof(PendingProps), AV_FIFO_FLAG_AUTO_GROW);
    if (!s->pending)
        return AVERROR(ENOMEM);

    if ((ret = load_bridge(ctx)) < 0)
        return ret;

    if ((ret = collect_options(ctx, &options)) < 0)
        return ret;
    ret = s->bridge.create((const char *const *)options, bridge_log, ctx, &s->handle);
    free_options(&options);
    if (ret < 0)
        return AVERROR(EINVAL);
    s->have_handle = 1;

    if (s->bridge.pix_fmts(s->handle, names, sizeof(names)) < 0)
        return AVERROR(EINVAL);
    if ((ret = parse_pix_fmts(ctx, names)) < 0)
        return ret;
    return make_link_fmts(ctx);
}

static int query_formats(const AVFilterContext *ctx,
                         AVFilterFormatsConfig **cfg_in,
                         AVFilterFormatsConfig **cfg_out)
{
    const NNVISRContext *s = ctx->priv;
    int ret;

    if (s->out_format == OUT_FORMAT_INPUT)
        /* one list for both links: the output gets the input's format */
        return ff_set_common_formats_from_list2(ctx, cfg_in, cfg_out, s->link_fmts);
    ret = ff_formats_ref(ff_make_format_list(s->link_fmts), &cfg_in[0]->formats);
    if (ret < 0)
        return ret;
    return ff_formats_ref(ff_make_format_list(s->pix_fmts), &cfg_out[0]->formats);
}

/* The network's format closest to fmt: fmt itself when the network takes it. */
static enum AVPixelFormat closest_model_fmt(const NNVISRContext *s, enum AVPixelFormat fmt)
{
    enum AVPixelFormat best = AV_PIX_FMT_NONE;

    if (is_model_fmt(s, fmt))
        return fmt;
    for (int i = 0; s->pix_fmts[i] != AV_PIX_FMT_NONE; i++)
        best = av_find_best_pix_fmt_of_2(best, s->pix_fmts[i], fmt, 0, NULL);
    return best;
}

static int alloc_model_frame(AVFrame **frame, enum AVPixelFormat fmt, int w, int h)
{
    if (!(*frame = av_frame_alloc()))
        return AVERROR(ENOMEM);
    (*frame)->format = fmt;
    (*frame)->width  = w;
    (*frame)->height = h;
    return av_frame_get_buffer(*frame, 0);
}

/* swscale's matrix for a colour space, as the scale filter picks it: BT.601 when unknown. */
static const int *sws_matrix(enum AVColorSpace csp)
{
    if (csp == AVCOL_SPC_UNSPECIFIED || csp == AVCOL_SPC_RGB || csp >= AVCOL_SPC_NB)
        csp = AVCOL_SPC_BT470BG;
    return sws_getCoefficients(csp);
}

/* Convert between frames of the same size; the YUV side's colour space and
 * range come from yuv (an RGB side is always full range). */
static int convert(struct SwsContext *sws, AVFrame *dst, const AVFrame *src, const AVFrame *yuv)
{
    const int *matrix = sws_matrix(yuv->colorspace);
    int full = yuv->color_range == AVCOL_RANGE_JPEG;
    int ret = sws_setColorspaceDetails(sws, matrix, full, matrix, full, 0, 1 << 16, 1 << 16);

    if (ret < 0)
        return ret;
    return sws_scale_frame(sws, dst, src);
}

static void free_conversions(NNVISRContext *s)
{
    sws_freeContext(s->sws_in);
    sws_freeContext(s->sws_out);
    s->sws_in = s->sws_out = NULL;
    av_frame_free(&s->model_in);
    av_frame_free(&s->model_out);
}

static int setup_conversions(AVFilterContext *ctx)
{
    NNVISRContext *s = ctx->priv;
    AVFilterLink *inlink = ctx->inputs[0];
    AVFilterLink *outlink = ctx->outputs[0];
    int ret;

    free_conversions(s);
    if (inlink->format != s->model_fmt) {
        s->sws_in = sws_getContext(inlink->w, inlink->h, inlink->format,
                                   inlink->w, inlink->h, s->model_fmt, SWS_ACCURATE, NULL, NULL, NULL);
        if (!s->sws_in)
            return AVERROR(EINVAL);
        if ((ret = alloc_model_frame(&s->model_in, s->model_fmt, inlink->w, inlink->h)) < 0)
            return ret;
    }
    if (outlink->format != s->model_fmt) {
        s->sws_out = sws_getContext(outlink->w, outlink->h, s->model_fmt,
                                    outlink->w, outlink->h, outlink->format, SWS_ACCURATE, NULL, NULL, NULL);
        if (!s->sws_out)
            return AVERROR(EINVAL);
        if ((ret = alloc_model_frame(&s->model_out, s->model_fmt, outlink->w, outlink->h)) < 0)
            return ret;
    }
    if (s->sws_in || s->sws_out)
        av_log(ctx, AV_LOG_VERBOSE, "converting %s -> %s -> %s\n",
               av_get_pix_fmt_name(inlink->format), av_get_pix_fmt_name(s->model_fmt),
               av_get_pix_fmt_name(outlink->format));
    return 0;
}

static void warn_if_interlaced(AVFilterContext *ctx, const AVFrame *in)
{
    NNVISRContext *s = ctx->priv;

    if (s->warned_interlaced || !(in->flags & AV_FRAME_FLAG_INTERLACED))
        return;
    s->warned_interlaced = 1;
    av_log(ctx, AV_LOG_WARNING, "input is interlaced (%s field first), but the network "
           "takes whole frames: deinterlace first, e.g. -vf bwdif,nnvisr\n",
           in->flags & AV_FRAME_FLAG_TOP_FIELD_FIRST ? "top" : "bottom");
}

/* The input link's format as the bridge measures frames in it (scene cuts). */
static void describe_link_format(NNVISRLinkConfig *cfg, const AVFilterLink *inlink)
{
    const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get(inlink->format);
    int nb_planes = av_pix_fmt_count_planes(inlink->format);

    cfg->link_pix_fmt    = desc->name;
    cfg->link_depth      = desc->comp[0].depth;
    cfg->link_components = desc->nb_components;
    cfg->link_flags      = (desc->flags & AV_PIX_FMT_FLAG_RGB    ? NNVISR_FMT_RGB        : 0) |
                           (desc->flags & AV_PIX_FMT_FLAG_PLANAR ? NNVISR_FMT_PLANAR     : 0) |
                           (desc->flags & AV_PIX_FMT_FLAG_FLOAT  ? NNVISR_FMT_FLOAT      : 0) |
                           (desc->flags & AV_PIX_FMT_FLAG_BE     ? NNVISR_FMT_BIG_ENDIAN : 0);
    for (int i = 0; i < nb_planes && i < 4; i++) {
        int bytes = av_image_get_linesize(inlink->format, inlink->w, i);
        cfg->link_plane_bytes[i] = FFMAX(bytes, 0);
        cfg->link_plane_rows[i]  = i == 1 || i == 2 ? AV_CEIL_RSHIFT(inlink->h, desc->log2_chroma_h)
                                                    : inlink->h;
    }
}

static int config_output(AVFilterLink *outlink)
{
    AVFilterContext *ctx = outlink->src;
    NNVISRContext *s = ctx->priv;
    AVFilterLink *inlink = ctx->inputs[0];
    FilterLink *il = ff_filter_link(inlink);
    FilterLink *ol = ff_filter_link(outlink);
    enum AVPixelFormat model_fmt = closest_model_fmt(s, inlink->format);
    int ret;
    NNVISRLinkConfig cfg = {
        .in_w    = inlink->w,
        .in_h    = inlink->h,
        .pix_fmt = av_get_pix_fmt_name(model_fmt),
        .tb_num  = inlink->time_base.num,
        .tb_den  = inlink->time_base.den,
        .fr_num  = il->frame_rate.num,
        .fr_den  = il->frame_rate.den,
        .sar_num = inlink->sample_aspect_ratio.num,
        .sar_den = inlink->sample_aspect_ratio.den,
    };

    describe_link_format(&cfg, inlink);
    cfg.same_format = outlink->format == inlink->format;
    if (s->bridge.configure(s->handle, &cfg) < 0)
        return AVERROR(EINVAL);
    s->model_fmt    = model_fmt;
    s->keep_sources = cfg.keep_sources;

    outlink->w         = cfg.out_w;
    outlink->h         = cfg.out_h;
    outlink->time_base = (AVRational){ cfg.out_tb_num, cfg.out_tb_den };
    ol->frame_rate     = (AVRational){ cfg.out_fr_num, cfg.out_fr_den };
    /* keep the display aspect ratio when the two axes scale differently */
    if (inlink->sample_aspect_ratio.num)
        outlink->sample_aspect_ratio = av_mul_q(inlink->sample_aspect_ratio,
            (AVRational){ inlink->w * outlink->h, outlink->w * inlink->h });
    else
        outlink->sample_aspect_ratio = inlink->sample_aspect_ratio;
    av_strlcpy(s->scene_meta_key, cfg.scene_key, sizeof(s->scene_meta_key));
    av_strlcpy(s->presence_meta_key, cfg.presence_key, sizeof(s->presence_meta_key));
    /* kept apart: a filter in front may change the link's size afterwards */
    s->in_w      = inlink->w;
    s->in_h      = inlink->h;
    s->in_format = inlink->format;
    if ((ret = setup_conversions(ctx)) < 0)
        return ret;

    av_log(ctx, AV_LOG_VERBOSE, "%dx%d %s -> %dx%d, time base %d/%d -> %d/%d\n",
           inlink->w, inlink->h, cfg.pix_fmt, outlink->w, outlink->h,
           inlink->time_base.num, inlink->time_base.den,
           outlink->time_base.num, outlink->time_base.den);
    return 0;
}

static void fill_planes(NNVISRFrame *f, const AVFrame *frame)
{
    for (int i = 0; i < 4; i++) {
        f->data[i]     = frame->data[i];
        f->linesize[i] = frame->linesize[i];
    }
    f->width       = frame->width;
    f->height      = frame->height;
    f->color_range     = frame->color_range;
    f->color_primaries = frame->color_primaries;
    f->color_trc       = frame->color_trc;
    f->colorspace      = frame->colorspace;
}

static int push_frame(AVFilterContext *ctx, AVFrame *in)
{
    NNVISRContext *s = ctx->priv;
    PendingProps pending = { .seq = s->next_seq++ };
    NNVISRFrame f = { .pts = in->pts, .duration = in->duration, .seq = pending.seq };
    const AVDictionaryEntry *scene, *presence;
    int ret = 0;

    /* the pixels are copied by the bridge; only the properties are kept,
     * unless the frame itself may have to go out unchanged */
    pending.props = s->keep_sources ? av_frame_clone(in) : av_frame_alloc();
    if (!pending.props) {
        av_frame_free(&in);
        return AVERROR(ENOMEM);
    }
    if (!s->keep_sources)
        ret = av_frame_copy_props(pending.props, in);
    if (ret >= 0)
        ret = av_fifo_write(s->pending, &pending, 1);
    if (ret < 0) {
        av_frame_free(&pending.props);
        av_frame_free(&in);
        return ret;
    }

    warn_if_interlaced(ctx, in);
    if (s->sws_in) {
        ret = convert(s->sws_in, s->model_in, in, in);
        if (ret < 0) {
            av_frame_free(&in);
            return ret;
        }
        fill_planes(&f, s->model_in);
        f.color_range     = in->color_range;
        f.color_primaries = in->color_primaries;
        f.color_trc       = in->color_trc;
        f.colorspace      = in->colorspace;
    } else {
        fill_planes(&f, in);
    }
    for (int i = 0; i < 4; i++) {
        f.link_data[i]     = in->data[i];
        f.link_linesize[i] = in->linesize[i];
    }
    scene = s->scene_meta_key[0] ? av_dict_get(in->metadata, s->scene_meta_key, NULL, 0) : NULL;
    f.scene_value = scene ? scene->value : NULL;
    presence = s->presence_meta_key[0] ? av_dict_get(in->metadata, s->presence_meta_key, NULL, 0) : NULL;
    f.presence_value = presence ? presence->value : NULL;

    ret = s->bridge.push(s->handle, &f);
    av_frame_free(&in);
    return ret < 0 ? AVERROR_EXTERNAL : ret;
}

/* Drops the properties of input frames no output needs any more and returns
 * those of input frame seq. Outputs come in input order. */
static AVFrame *props_of(NNVISRContext *s, int64_t seq)
{
    PendingProps p;

    while (av_fifo_peek(s->pending, &p, 1, 0) >= 0) {
        if (p.seq >= seq)
            return p.seq == seq ? p.props : NULL;
        av_fifo_drain2(s->pending, 1);
        av_frame_free(&p.props);
    }
    return NULL;
}

static void drop_size_dependent_side_data(AVFrame *out)
{
#if LIBAVFILTER_VERSION_MAJOR >= 11
    av_frame_side_data_remove_by_props(&out->side_data, &out->nb_side_data,
                                       AV_SIDE_DATA_PROP_SIZE_DEPENDENT);
#else
    av_frame_remove_side_data(out, AV_FRAME_DATA_REGIONS_OF_INTEREST);
    av_frame_remove_side_data(out, AV_FRAME_DATA_MOTION_VECTORS);
    av_frame_remove_side_data(out, AV_FRAME_DATA_VIDEO_ENC_PARAMS);
#endif
}

static int send_ready_frames(AVFilterContext *ctx, int nb_ready)
{
    NNVISRContext *s = ctx->priv;
    AVFilterLink *outlink = ctx->outputs[0];
    int ret;

    for (int i = 0; i < nb_ready; i++) {
        AVFrame *out = ff_get_video_buffer(outlink, outlink->w, outlink->h);
        NNVISRFrame f = { 0 };
        AVFrame *props;

        if (!out)
            return AVERROR(ENOMEM);
        fill_planes(&f, s->sws_out ? s->model_out : out);
        if (s->bridge.pull(s->handle, &f) < 0) {
            av_frame_free(&out);
            return AVERROR_EXTERNAL;
        }
        props = props_of(s, f.seq);
        if (f.is_source) {
            /* an input frame unchanged: sent as it came, to the bit */
            av_frame_free(&out);
            if (!s->keep_sources || !props)
                return AVERROR_BUG;
            if (!(out = av_frame_clone(props)))
                return AVERROR(ENOMEM);
        } else {
            if (props && (ret = av_frame_copy_props(out, props)) < 0) {
                av_frame_free(&out);
                return ret;
            }
            /* the link's, not the input frame's: they differ when the formats do (YUV in, RGB out) */
            out->colorspace  = outlink->colorspace;
            out->color_range = outlink->color_range;
            /* the network's side has the input's colour properties */
            if (s->sws_out && (ret = convert(s->sws_out, out, s->model_out, props ? props : out)) < 0) {
                av_frame_free(&out);
                return ret;
            }
        }
        if (outlink->w != s->in_w || outlink->h != s->in_h)
            drop_size_dependent_side_data(out);
        if (outlink->h != s->in_h) /* lines of the two fields are mixed by the network */
            out->flags &= ~(AV_FRAME_FLAG_INTERLACED | AV_FRAME_FLAG_TOP_FIELD_FIRST);
        out->pts                 = f.pts;
        out->duration            = f.duration;
        out->sample_aspect_ratio = outlink->sample_aspect_ratio;
        if ((ret = ff_filter_frame(outlink, out)) < 0)
            return ret;
    }
    return 0;
}

/* End of input at pts: the outputs of every held frame are sent. Returns the
 * EOF pts in the output time base. */
static int flush_held_frames(AVFilterContext *ctx, int64_t pts, int64_t *out_pts)
{
    NNVISRContext *s = ctx->priv;
    int ret;

    s->eof = 1;
    ret = s->bridge.flush(s->handle, pts, out_pts);
    if (ret < 0)
        return AVERROR_EXTERNAL;
    return send_ready_frames(ctx, ret);
}

/* The model is configured for one size and format: a frame that differs (a
 * size change with -reinit_filter 0, or after a filter that changes its
 * output size itself, such as scale with eval=frame) cannot be read, and its
 * output would not have the size of the output link, which the filters after
 * this one rely on. The frames held so far are sent; the error is returned at
 * the next activation, once the filters after this one have taken them (an
 * error status on the output would reach ffmpeg as a plain EOF through a
 * scale filter, and an error returned now would drop the frames on the way). */
static int refuse_frame(AVFilterContext *ctx, AVFrame *in)
{
    NNVISRContext *s = ctx->priv;
    const char *configured = av_get_pix_fmt_name(s->in_format);
    int64_t pts = in->pts, out_pts;

    av_log(ctx, AV_LOG_ERROR, "Input frame %dx%d %s differs from the %dx%d %s the "
           "filter was configured for, and the filter graph was not re-created: "
           "let ffmpeg re-create it (do not use -reinit_filter 0) or put "
           "scale=%d:%d,format=%s before nnvisr.\n",
           in->width, in->height, av_get_pix_fmt_name(in->format),
           s->in_w, s->in_h, configured, s->in_w, s->in_h, configured);
    av_frame_free(&in);
    s->refused = AVERROR(EINVAL);
    return flush_held_frames(ctx, pts, &out_pts);
}

static int activate(AVFilterContext *ctx)
{
    NNVISRContext *s = ctx->priv;
    AVFilterLink *inlink = ctx->inputs[0];
    AVFilterLink *outlink = ctx->outputs[0];
    AVFrame *in;
    int64_t pts, out_pts;
    int ret, status;

    if (s->refused)
        return s->refused;

    FF_FILTER_FORWARD_STATUS_BACK(outlink, inlink);

    ret = ff_inlink_consume_frame(inlink, &in);
    if (ret < 0)
        return ret;
    if (ret > 0) {
        if (in->width != s->in_w || in->height != s->in_h || in->format != s->in_format)
            return refuse_frame(ctx, in);
        if ((ret = push_frame(ctx, in)) < 0)
            return ret;
        if ((ret = send_ready_frames(ctx, ret)) < 0)
            return ret;
        /* Run again: for the next queued frame, or for an EOF that arrived
         * with the last ones (it is acknowledged only once they are consumed;
         * left pending, two chained temporal instances never finished). */
        ff_filter_set_ready(ctx, 100);
        return 0;
    }

    if (!s->eof && ff_inlink_acknowledge_status(inlink, &status, &pts)) {
        if ((ret = flush_held_frames(ctx, pts, &out_pts)) < 0)
            return ret;
        ff_outlink_set_status(outlink, status, out_pts);
        return 0;
    }

    FF_FILTER_FORWARD_WANTED(outlink, inlink);

    return FFERROR_NOT_READY;
}

static av_cold void uninit(AVFilterContext *ctx)
{
    NNVISRContext *s = ctx->priv;
    PendingProps p;

    /* the bridge counts the input frames whose outputs were never sent; the
     * instance of a re-created graph reports them */
    if (s->have_handle)
        s->bridge.destroy(s->handle);
    s->have_handle = 0;
    if (s->pending) {
        while (av_fifo_read(s->pending, &p, 1) >= 0)
            av_frame_free(&p.props);
        av_fifo_freep2(&s->pending);
    }
    free_conversions(s);
    av_freep(&s->link_fmts);
}

static const AVFilterPad nnvisr_inputs[] = {
    {
        .name = "default",
        .type = AVMEDIA_TYPE_VIDEO,
    },
};

static const AVFilterPad nnvisr_outputs[] = {
    {
        .name         = "default",
        .type         = AVMEDIA_TYPE_VIDEO,
        .config_props = config_output,
    },
};

#define NNVISR_DESCRIPTION NULL_IF_CONFIG_SMALL("Enhance video with a neural network working on groups of frames.")

#if LIBAVFILTER_VERSION_MAJOR >= 11
const FFFilter ff_vf_nnvisr = {
    .p.name        = "nnvisr",
    .p.description = NNVISR_DESCRIPTION,
    .p.priv_class  = &nnvisr_class,
#else
const AVFilter ff_vf_nnvisr = {
    .name          = "nnvisr",
    .description   = NNVISR_DESCRIPTION,
    .priv_class    = &nnvisr_class,
#endif
    .priv_size     = sizeof(NNVISRContext),
    .init          = init,
    .uninit        = uninit,
    .activate      = activate,
    FILTER_INPUTS(nnvisr_inputs),
    FILTER_OUTPUTS(nnvisr_outputs),
    FILTER_QUERY_FUNC2(query_formats),
};
