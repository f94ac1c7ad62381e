/* The whole contract between the kernel capture program (capture.bpf.c) and user space
 * (sensor/capture/bpf_source.cpp): the ring buffer record header, the per-CPU counter slots
 * and the flag bits. Fixed-width fields only, so both compilers agree on the layout. */
#ifndef RCPTWATCH_BPF_CAPTURE_H
#define RCPTWATCH_BPF_CAPTURE_H

#include <linux/types.h>

#define RW_MAX_PORTS 16

/* Record flags. */
#define RW_FLAG_TRUNCATED 0x01    /* the frame was longer than the largest record */
#define RW_FLAG_VLAN_OFFLOADED 0x02 /* TC: a tag was in skb metadata, not in the bytes */

/* Where the frame was seen. */
#define RW_DIR_XDP 0
#define RW_DIR_TC_INGRESS 1
#define RW_DIR_TC_EGRESS 2

/* Per-CPU counter slots (one BPF_MAP_TYPE_PERCPU_ARRAY entry each). */
#define RW_COUNTER_SEEN 0         /* frames the program ran on */
#define RW_COUNTER_MATCHED 1      /* frames kept (SMTP port or IP fragment) */
#define RW_COUNTER_RINGBUF_FULL 2 /* kept but lost: no room in the ring buffer */
#define RW_COUNTER_TRUNCATED 3    /* kept but longer than the largest record */
#define RW_COUNTER_MALFORMED 4    /* headers cut short or inconsistent (not kept) */
#define RW_COUNTER_COUNT 5

/* Record payload classes: bpf_ringbuf_reserve needs a constant size, so a frame goes into the
 * smallest class that holds it. The largest holds a TSO/GRO super-segment. */
#define RW_CLASS_1 256   /* SYN, ACK, short commands and replies */
#define RW_CLASS_2 2048  /* a 1500-byte MTU frame */
#define RW_CLASS_3 4096
#define RW_CLASS_4 9216  /* jumbo frame */
#define RW_CLASS_5 16384 /* GRO/TSO super-segments */
#define RW_CLASS_6 32768
#define RW_CLASS_7 65535 /* the largest IP datagram plus link header fits */

/* One ring buffer record: this header, then captured_length bytes of Ethernet frame. */
struct rw_event {
  __u64 timestamp_ns;    /* bpf_ktime_get_ns (CLOCK_MONOTONIC) */
  __u32 ifindex;
  __u32 wire_length;     /* length of the frame as the hook saw it */
  __u32 captured_length; /* bytes that follow this header */
  __u16 vlan_tci;        /* with RW_FLAG_VLAN_OFFLOADED */
  __u16 vlan_proto;      /* network order, with RW_FLAG_VLAN_OFFLOADED */
  __u8 direction;        /* RW_DIR_* */
  __u8 flags;            /* RW_FLAG_* */
  __u8 reserved[6];
};

#endif /* RCPTWATCH_BPF_CAPTURE_H */
