/* Kernel half of rcptwatch's eBPF capture: runs at XDP or TC (clsact ingress/egress), keeps
 * only frames user space needs (TCP to or from an SMTP port, and every IP fragment, whose TCP
 * header may be elsewhere) and copies them whole into ring buffer records. Headers are read
 * with bpf_*_load_bytes so the same parser works on linear and paged packets and needs no
 * kernel type information (no CO-RE): it only looks at packet bytes and UAPI fields. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "capture.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by user space between open and load (from --ports and --xdp-drop). */
const volatile __u16 rw_ports[RW_MAX_PORTS] = {};
const volatile __u32 rw_port_count = 0;
const volatile __u32 rw_xdp_drop = 0;

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 16 << 20); /* user space may resize before load */
} rw_events SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, RW_COUNTER_COUNT);
  __type(key, __u32);
  __type(value, __u64);
} rw_counters SEC(".maps");

enum rw_verdict { RW_SKIP, RW_KEEP, RW_MALFORMED };

struct rw_vlan_tag {
  __be16 tci;
  __be16 proto;
};

struct rw_ext_header {
  __u8 next;
  __u8 len;
};

struct rw_ports_pair {
  __be16 source;
  __be16 dest;
};

static __always_inline void count(__u32 slot) {
  __u64 *value = bpf_map_lookup_elem(&rw_counters, &slot);
  if (value) *value += 1;
}

/* is_xdp is a constant after inlining, so each program keeps only its own helper call. */
static __always_inline long load(void *ctx, int is_xdp, __u32 offset, void *to, __u32 len) {
  if (is_xdp) return bpf_xdp_load_bytes(ctx, offset, to, len);
  return bpf_skb_load_bytes(ctx, offset, to, len);
}

static __always_inline int port_wanted(__u16 port) {
#pragma unroll
  for (int i = 0; i < RW_MAX_PORTS; i++) {
    if (i >= rw_port_count) break;
    if (rw_ports[i] == port) return 1;
  }
  return 0;
}

static __always_inline enum rw_verdict classify(void *ctx, int is_xdp) {
  struct ethhdr eth;
  if (load(ctx, is_xdp, 0, &eth, sizeof eth)) return RW_MALFORMED;
  __be16 proto = eth.h_proto;
  __u32 offset = sizeof eth;

  /* 802.1Q and QinQ tags carried in the frame (TC's offloaded tag is not in the bytes). */
#pragma unroll
  for (int i = 0; i < 2; i++) {
    if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD)) break;
    struct rw_vlan_tag tag;
    if (load(ctx, is_xdp, offset, &tag, sizeof tag)) return RW_MALFORMED;
    proto = tag.proto;
    offset += sizeof tag;
  }

  if (proto == bpf_htons(ETH_P_IP)) {
    struct iphdr ip;
    if (load(ctx, is_xdp, offset, &ip, sizeof ip)) return RW_MALFORMED;
    if (ip.version != 4 || ip.ihl < 5) return RW_MALFORMED;
    /* Any fragment goes up: user space reassembles, then judges the ports (as the pcap
     * default filter does). */
    if (ip.frag_off & bpf_htons(0x3fff)) return RW_KEEP;
    if (ip.protocol != IPPROTO_TCP) return RW_SKIP;
    offset += (__u32)ip.ihl * 4;
  } else if (proto == bpf_htons(ETH_P_IPV6)) {
    struct ipv6hdr ip6;
    if (load(ctx, is_xdp, offset, &ip6, sizeof ip6)) return RW_MALFORMED;
    if (ip6.version != 6) return RW_MALFORMED;
    __u8 next = ip6.nexthdr;
    offset += sizeof ip6;
#pragma unroll
    for (int i = 0; i < 4; i++) {
      if (next == IPPROTO_TCP) break;
      if (next == IPPROTO_FRAGMENT) return RW_KEEP;
      if (next != IPPROTO_HOPOPTS && next != IPPROTO_ROUTING && next != IPPROTO_DSTOPTS) {
        return RW_SKIP;
      }
      struct rw_ext_header ext;
      if (load(ctx, is_xdp, offset, &ext, sizeof ext)) return RW_MALFORMED;
      next = ext.next;
      offset += ((__u32)ext.len + 1) * 8;
    }
    if (next != IPPROTO_TCP) return RW_SKIP;
  } else {
    return RW_SKIP;
  }

  struct rw_ports_pair ports;
  if (load(ctx, is_xdp, offset, &ports, sizeof ports)) return RW_MALFORMED;
  if (port_wanted(bpf_ntohs(ports.source)) || port_wanted(bpf_ntohs(ports.dest))) return RW_KEEP;
  return RW_SKIP;
}

struct rw_meta {
  __u32 wire_length;
  __u32 ifindex;
  __u16 vlan_tci;
  __u16 vlan_proto;
  __u8 direction;
  __u8 flags;
};

/* class_size is a constant after inlining: bpf_ringbuf_reserve needs one. */
static __always_inline void emit_class(void *ctx, int is_xdp, const struct rw_meta *meta,
                                       __u32 class_size) {
  struct rw_event *event = bpf_ringbuf_reserve(&rw_events, sizeof(*event) + class_size, 0);
  if (!event) {
    count(RW_COUNTER_RINGBUF_FULL);
    return;
  }
  __u64 captured = meta->wire_length; /* 64-bit: bounds checks land on the register passed on */
  __u8 flags = meta->flags;
  if (captured > class_size) {
    captured = class_size;
    flags |= RW_FLAG_TRUNCATED;
    count(RW_COUNTER_TRUNCATED);
  }
  /* The compiler knows captured <= class_size already and would drop (or merge into one
   * subtraction) plain re-checks; the barriers make it test, bound by bound, the register
   * the verifier tracks into the helper call. */
  barrier_var(captured);
  if (captured > class_size) captured = class_size;
  barrier_var(captured);
  if (captured == 0 || load(ctx, is_xdp, 0, (void *)(event + 1), captured)) {
    bpf_ringbuf_discard(event, 0);
    count(RW_COUNTER_MALFORMED);
    return;
  }
  event->timestamp_ns = bpf_ktime_get_ns();
  event->ifindex = meta->ifindex;
  event->wire_length = meta->wire_length;
  event->captured_length = (__u32)captured;
  event->vlan_tci = meta->vlan_tci;
  event->vlan_proto = meta->vlan_proto;
  event->direction = meta->direction;
  event->flags = flags;
  __builtin_memset(event->reserved, 0, sizeof event->reserved);
  bpf_ringbuf_submit(event, 0);
}

static __always_inline void emit(void *ctx, int is_xdp, const struct rw_meta *meta) {
  const __u32 len = meta->wire_length;
  if (len <= RW_CLASS_1) emit_class(ctx, is_xdp, meta, RW_CLASS_1);
  else if (len <= RW_CLASS_2) emit_class(ctx, is_xdp, meta, RW_CLASS_2);
  else if (len <= RW_CLASS_3) emit_class(ctx, is_xdp, meta, RW_CLASS_3);
  else if (len <= RW_CLASS_4) emit_class(ctx, is_xdp, meta, RW_CLASS_4);
  else if (len <= RW_CLASS_5) emit_class(ctx, is_xdp, meta, RW_CLASS_5);
  else if (len <= RW_CLASS_6) emit_class(ctx, is_xdp, meta, RW_CLASS_6);
  else emit_class(ctx, is_xdp, meta, RW_CLASS_7);
}

SEC("xdp")
int rw_xdp(struct xdp_md *ctx) {
  count(RW_COUNTER_SEEN);
  const enum rw_verdict verdict = classify(ctx, 1);
  if (verdict == RW_KEEP) {
    count(RW_COUNTER_MATCHED);
    struct rw_meta meta = {
        .wire_length = (__u32)bpf_xdp_get_buff_len(ctx),
        .ifindex = ctx->ingress_ifindex,
        .direction = RW_DIR_XDP,
    };
    emit(ctx, 1, &meta);
    return XDP_PASS;
  }
  if (verdict == RW_MALFORMED) count(RW_COUNTER_MALFORMED);
  return rw_xdp_drop ? XDP_DROP : XDP_PASS;
}

/* TC_ACT_UNSPEC: an observer, never a verdict; later filters on the hook still run. */
static __always_inline int tc_capture(struct __sk_buff *skb, __u8 direction) {
  count(RW_COUNTER_SEEN);
  const enum rw_verdict verdict = classify(skb, 0);
  if (verdict == RW_KEEP) {
    count(RW_COUNTER_MATCHED);
    struct rw_meta meta = {
        .wire_length = skb->len,
        .ifindex = skb->ifindex,
        .direction = direction,
    };
    if (skb->vlan_present) {
      meta.vlan_tci = (__u16)skb->vlan_tci;
      meta.vlan_proto = (__u16)skb->vlan_proto;
      meta.flags = RW_FLAG_VLAN_OFFLOADED;
    }
    emit(skb, 0, &meta);
  } else if (verdict == RW_MALFORMED) {
    count(RW_COUNTER_MALFORMED);
  }
  return TC_ACT_UNSPEC;
}

SEC("tc")
int rw_tc_ingress(struct __sk_buff *skb) { return tc_capture(skb, RW_DIR_TC_INGRESS); }

SEC("tc")
int rw_tc_egress(struct __sk_buff *skb) { return tc_capture(skb, RW_DIR_TC_EGRESS); }
