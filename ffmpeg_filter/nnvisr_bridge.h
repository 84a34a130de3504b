/*
 * C interface between the nnvisr libavfilter filter and the nnvisr bridge,
 * a cffi embedding library that runs the Python package nnvisr_core.
 *
 * The filter holds no policy: it hands frames and link parameters over and
 * writes back what the bridge computed. Every function returns a negative
 * value on error, after the bridge has logged the reason through the log
 * callback given to nnvisr_create().
 *
 * This header is shared verbatim by the filter (compiled inside FFmpeg) and
 * the bridge (compiled by meson); keep it free of FFmpeg types.
 */

#ifndef NNVISR_BRIDGE_H
#define NNVISR_BRIDGE_H

#include <stdint.h>

/* Bumped whenever a declaration below changes. */
#define NNVISR_BRIDGE_ABI 4

/* level uses FFmpeg's AV_LOG_* numbers; msg holds no trailing newline. */
typedef void (*nnvisr_log_fn)(void *opaque, int level, const char *msg);

/* NNVISRLinkConfig.link_flags: the input link's pixel format, as its
 * AVPixFmtDescriptor describes it */
#define NNVISR_FMT_RGB        1
#define NNVISR_FMT_PLANAR     2
#define NNVISR_FMT_FLOAT      4
#define NNVISR_FMT_BIG_ENDIAN 8

typedef struct NNVISRLinkConfig {
    /* filled by the filter: the negotiated input link */
    int in_w, in_h;
    const char *pix_fmt;            /* av_get_pix_fmt_name() of the format the
                                       model works in (frames are converted to
                                       it when the link's differs) */
    int tb_num, tb_den;             /* input time base */
    int fr_num, fr_den;             /* input frame rate, 0/1 when unknown */
    int sar_num, sar_den;
    /* the input link's own format, for what is measured on the frames as
     * they arrive (scene cuts) */
    const char *link_pix_fmt;
    int link_depth;                 /* bits of the first component */
    int link_components;
    int link_flags;                 /* NNVISR_FMT_* */
    int link_plane_bytes[4];        /* bytes of one row of each plane, 0 past the last */
    int link_plane_rows[4];
    int same_format;                /* 1: the output link has the input link's pixel format */
    /* filled by the bridge: the output link */
    int out_w, out_h;
    int out_tb_num, out_tb_den;
    int out_fr_num, out_fr_den;
    /* metadata key whose presence on a frame marks a scene change, or "" */
    char scene_key[128];
    /* metadata key that scene detection in front sets on every frame, or "" */
    char presence_key[128];
    /* 1: some outputs are input frames unchanged (nnvisr_pull() says which),
     * which the filter sends itself: it keeps every input frame until the
     * outputs made from it are sent */
    int keep_sources;
} NNVISRLinkConfig;

typedef struct NNVISRFrame {
    uint8_t *data[4];               /* plane pointers (FFmpeg plane order) */
    int linesize[4];
    int width, height;
    int64_t pts;                    /* in: input pts; pull: output pts */
    int64_t duration;               /* in: input duration; pull: output duration */
    int64_t seq;                    /* push: index of this input frame;
                                       pull: index of the input frame whose
                                       properties the output frame carries */
    int color_range;                /* AVColorRange of the frame */
    int color_primaries;            /* H.273 code points, as FFmpeg's enums */
    int color_trc;
    int colorspace;
    const char *scene_value;        /* value of the scene key on this frame, or NULL */
    const char *presence_value;     /* value of the presence key on this frame, or NULL */
    /* push: the frame as it came on the input link, before any conversion
     * to the model's format (data/linesize when there is none) */
    uint8_t *link_data[4];
    int link_linesize[4];
    /* pull: 1 when the output is input frame seq unchanged, for the filter to
     * send (only with keep_sources; the planes are then not written) */
    int is_source;
} NNVISRFrame;

/* Returns NNVISR_BRIDGE_ABI; 0 means the embedded interpreter failed to start. */
int nnvisr_abi_version(void);

/* options: the options set on the filter as name, value, name, value, ...,
 * NULL; a value is taken whole, whatever characters it holds. */
int nnvisr_create(const char *const *options, nnvisr_log_fn log, void *log_opaque,
                  int64_t *handle);

/* Writes the pixel formats the model takes, as FFmpeg names separated by '|',
 * best first. */
int nnvisr_pix_fmts(int64_t handle, char *buf, int buf_size);

int nnvisr_configure(int64_t handle, NNVISRLinkConfig *cfg);

/* Hands one input frame over; the bridge copies what it needs before it
 * returns. The frame must have the configured size (it is refused
 * otherwise). Returns the number of output frames ready to pull. */
int nnvisr_push(int64_t handle, const NNVISRFrame *frame);

/* End of input at eof_pts (input time base). Returns the number of output
 * frames ready to pull and the EOF pts in the output time base. */
int nnvisr_flush(int64_t handle, int64_t eof_pts, int64_t *out_eof_pts);

/* Fills one output frame allocated by the filter at the configured output
 * size; sets pts, duration and seq. */
int nnvisr_pull(int64_t handle, NNVISRFrame *frame);

/* Frees the instance. Returns the number of input frames pushed whose outputs
 * were never pulled: lost, unless nnvisr_flush() was called. */
int nnvisr_destroy(int64_t handle);

#endif /* NNVISR_BRIDGE_H */
