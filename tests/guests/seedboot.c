/* seedboot: the NetBSD 5.0 boot of the seed (/work/shared/seed), reduced to
 * the parts that broke on kvm-84, done the way NetBSD does them:
 * - ACPI: looks for a _PIC method in the DSDT; without it prints mpacpi's
 *   "switch to APIC mode failed" and carries on with the MP table.
 * - Interrupt routing only through the MP table (mpbios): the NIC's INTA#
 *   is looked up as source bus 0 IRQ (dev << 2) | (pin - 1). With kvm-84's
 *   table (ISA bus only) there is none: NetBSD-like complaint, a panic line,
 *   exit value 2.
 * - re0 (RTL8139C+, 10ec:8139 rev >= 0x20) in C+ mode as re(4) drives it: TX
 *   ring of 4 descriptors, IMR without TxOK, TIMERINT 0x400; every TxPoll is
 *   followed by a TCTR write (restarts the timer) and arms a 5-second
 *   watchdog; TX descriptors are reaped only in the interrupt handler on
 *   TimeOut | TxErr | TxDescUnavail, RX on RxOK. Without the chip's timer
 *   nothing is reaped and the watchdog fires: "re0: watchdog timeout", exit
 *   value 3.
 * - DHCP DISCOVER/OFFER/REQUEST/ACK, ARP for the gateway, then three ICMP
 *   echoes to 10.0.2.2 one second apart, printed as ping(8) does (no
 *   times); exit 0 when all three came back.
 * Guest time: PIT at 100 Hz through IOAPIC -> LAPIC (the ISA IRQ 0 entry of
 * the MP table); HLT while waiting. Multiboot command line "notimer" sets
 * TIMERINT to 0, which reproduces the missing timer on a NIC that has one
 * (for testing the watchdog path under QEMU). */
#include "acpi.h"
#include "apic.h"
#include "mptable.h"
#include "pci.h"
#include "rt.h"

#define EXIT_NO_INTR 2   /* no PCI interrupt routing: NetBSD panics */
#define EXIT_WATCHDOG 3  /* re0: watchdog timeout */
#define EXIT_NO_DEVICE 4 /* no RTL8139C+, or no DHCP lease / ARP reply */
#define EXIT_PING_LOST 5 /* fewer than three echo replies */

#define HZ 100
#define VEC_CLOCK 0x30
#define VEC_NIC 0x31

/* RTL8139C+ registers (PLATFORM.md; rtl81x9reg.h). */
#define RE_IDR0 0x00
#define RE_TXLIST_LO 0x20
#define RE_TXLIST_HI 0x24
#define RE_CMD 0x37
#define RE_IMR 0x3C
#define RE_ISR 0x3E
#define RE_TXCFG 0x40
#define RE_RXCFG 0x44
#define RE_TIMERCNT 0x48
#define RE_TIMERINT 0x54
#define RE_TXPOLL 0xD9
#define RE_CPLUSCMD 0xE0
#define RE_RXLIST_LO 0xE4
#define RE_RXLIST_HI 0xE8

#define CMD_RESET 0x10
#define CMD_RX_ENB 0x08
#define CMD_TX_ENB 0x04
#define CPLUS_TX_ENB 0x0001
#define CPLUS_RX_ENB 0x0002
#define TXPOLL_NPQ 0x40
#define RXCFG_APM_AM_AB 0x0E /* my address, multicast, broadcast */
#define RXCFG_MXDMA_UNLIMITED 0x700
#define TXCFG_IFG_MXDMA 0x03000700

#define ISR_RX_OK 0x0001
#define ISR_RX_ERR 0x0002
#define ISR_TX_OK 0x0004
#define ISR_TX_ERR 0x0008
#define ISR_RX_OVERFLOW 0x0010
#define ISR_LINK_CHG 0x0020
#define ISR_FIFO_OFLOW 0x0040
#define ISR_TX_DESC_UNAVAIL 0x0080
#define ISR_TIMEOUT 0x4000
#define ISR_SYSTEM_ERR 0x8000
/* NetBSD 5.0's RTK_INTRS_CPLUS, the IMR of the seed's debug log ("Set IRQ
 * to 0 (0004 c07b)"): everything but TxOK and TxDescUnavail. The handler
 * still reaps on TxDescUnavail when it sees it in ISR, as re_intr does. */
#define RE_INTRS                                                                           \
  (ISR_RX_OK | ISR_RX_ERR | ISR_TX_ERR | ISR_RX_OVERFLOW | ISR_LINK_CHG | ISR_FIFO_OFLOW | \
   ISR_TIMEOUT | ISR_SYSTEM_ERR)
#define RE_TIMERINT_VALUE 0x400

/* C+ descriptors: dword0 flags + length, dword1 VLAN, dwords 2-3 buffer. */
#define DESC_OWN 0x80000000u
#define DESC_EOR 0x40000000u
#define DESC_FS 0x20000000u
#define DESC_LS 0x10000000u
#define RX_LEN_MASK 0x1FFFu
#define TX_DESCS 4
#define RX_DESCS 16
#define BUF_SIZE 2048
#define WATCHDOG_SECONDS 5

struct desc {
  uint32_t cmd, vlan;
  uint64_t addr;
};

static struct desc tx_ring[TX_DESCS] __attribute__((aligned(256)));
static struct desc rx_ring[RX_DESCS] __attribute__((aligned(256)));
static uint8_t tx_buf[TX_DESCS][BUF_SIZE] __attribute__((aligned(8)));
static uint8_t rx_buf[RX_DESCS][BUF_SIZE] __attribute__((aligned(8)));
static int tx_prod, tx_cons, tx_free = TX_DESCS, rx_next;
static uint16_t iobase;
static volatile uint32_t ticks, watchdog_at; /* 0: watchdog off (if_timer) */
static uint32_t tx_dropped;

static struct mp_info mp;
static struct acpi_info acpi;

/* ---- network state (the handler fills it, main waits on it) ---- */
static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static uint8_t my_mac[6], gw_mac[6];
static volatile uint32_t my_ip, offered_ip, server_ip, router_ip;
static volatile int dhcp_state, gw_known;
static volatile uint32_t ping_replies; /* bit per icmp_seq */
/* "flood" on the command line (the network benchmark): FLOOD_COUNT pings,
 * each sent as soon as the previous reply arrived, printed only as a total. */
#define FLOOD_COUNT 200
static int flood;
static volatile uint32_t flood_replies;
enum { DHCP_SELECTING, DHCP_OFFERED, DHCP_REQUESTING, DHCP_BOUND, DHCP_NAK };
#define DHCP_XID 0x3903F326u
#define PING_ID 0x5EED
#define PING_COUNT 3
#define PING_DATA 56

static void re_w8(int r, uint8_t v) {
  outb((uint16_t)(iobase + r), v);
}
static void re_w16(int r, uint16_t v) {
  outw((uint16_t)(iobase + r), v);
}
static void re_w32(int r, uint32_t v) {
  outl((uint16_t)(iobase + r), v);
}
static uint8_t re_r8(int r) {
  return inb((uint16_t)(iobase + r));
}
static uint16_t re_r16(int r) {
  return inw((uint16_t)(iobase + r));
}

static void put_ip(uint32_t ip) { /* ip in network order as loaded from the wire */
  for (int i = 0; i < 4; ++i) {
    if (i) putc('.');
    put_dec((ip >> (8 * i)) & 0xff);
  }
}
static void put_mac(const uint8_t* m) {
  static const char hex[] = "0123456789abcdef";
  for (int i = 0; i < 6; ++i) {
    if (i) putc(':');
    putc(hex[m[i] >> 4]);
    putc(hex[m[i] & 15]);
  }
}

/* ---- re(4) ---- */

/* re_start: one packet into the next free descriptor; none free means the
 * packet waits in the interface queue in NetBSD; here it is dropped. */
static void re_send(const uint8_t* frame, uint32_t len) {
  if (tx_free == 0) {
    ++tx_dropped;
    return;
  }
  if (len < 60) len = 60; /* the chip does not pad short frames */
  memcpy(tx_buf[tx_prod], frame, len);
  struct desc* d = &tx_ring[tx_prod];
  d->vlan = 0;
  d->addr = (uint64_t)tx_buf[tx_prod];
  __asm__ volatile("" ::: "memory");
  d->cmd = DESC_OWN | DESC_FS | DESC_LS | (tx_prod == TX_DESCS - 1 ? DESC_EOR : 0) | len;
  __asm__ volatile("" ::: "memory");
  tx_prod = (tx_prod + 1) % TX_DESCS;
  --tx_free;
  re_w8(RE_TXPOLL, TXPOLL_NPQ);
  /* "Use the countdown timer for interrupt moderation. 'TX done'
   * interrupts are disabled. Instead, we reset the countdown timer, which
   * will begin counting until it hits the value in the TIMERINT register,
   * and then trigger an interrupt." (re_start) */
  re_w32(RE_TIMERCNT, 1);
  watchdog_at = ticks + WATCHDOG_SECONDS * HZ; /* ifp->if_timer = 5 */
}

static void re_txeof(void) {
  while (tx_free < TX_DESCS && !(tx_ring[tx_cons].cmd & DESC_OWN)) {
    tx_cons = (tx_cons + 1) % TX_DESCS;
    ++tx_free;
  }
  if (tx_free == TX_DESCS) watchdog_at = 0;
}

static void net_input(const uint8_t* p, uint32_t len);

static void re_rxeof(void) {
  for (int n = 0; n < RX_DESCS; ++n) {
    struct desc* d = &rx_ring[rx_next];
    uint32_t cmd = d->cmd;
    if (cmd & DESC_OWN) break;
    uint32_t len = cmd & RX_LEN_MASK;
    if ((cmd & (DESC_FS | DESC_LS)) == (DESC_FS | DESC_LS) && len > 4 && len <= BUF_SIZE)
      net_input(rx_buf[rx_next], len - 4); /* the length includes the CRC */
    d->addr = (uint64_t)rx_buf[rx_next];
    d->vlan = 0;
    __asm__ volatile("" ::: "memory");
    d->cmd = DESC_OWN | (rx_next == RX_DESCS - 1 ? DESC_EOR : 0) | BUF_SIZE;
    rx_next = (rx_next + 1) % RX_DESCS;
  }
}

static void re_intr(struct frame* f) {
  (void)f;
  for (int n = 0; n < 16; ++n) {
    uint16_t status = re_r16(RE_ISR);
    if (status == 0xFFFF || !(status & RE_INTRS)) break;
    re_w16(RE_ISR, status);
    if (status & (ISR_RX_OK | ISR_RX_ERR | ISR_RX_OVERFLOW | ISR_FIFO_OFLOW)) re_rxeof();
    if (status & (ISR_TIMEOUT | ISR_TX_ERR | ISR_TX_DESC_UNAVAIL)) re_txeof();
  }
}

static int re_attach(int dev, int notimer) {
  uint32_t bar0 = pci_read32(0, dev, 0, PCI_BAR0);
  if (!(bar0 & 1)) return 0;
  iobase = (uint16_t)(bar0 & ~3u);
  uint16_t cmd = pci_read16(0, dev, 0, PCI_COMMAND);
  pci_write16(0, dev, 0, PCI_COMMAND, cmd | 0x5); /* I/O decode, bus master */

  re_w8(RE_CMD, CMD_RESET);
  for (int i = 0; i < 10000 && (re_r8(RE_CMD) & CMD_RESET); ++i) continue;
  if (re_r8(RE_CMD) & CMD_RESET) {
    puts("re0: reset never completed\n");
    return 0;
  }
  for (int i = 0; i < 6; ++i) my_mac[i] = re_r8(RE_IDR0 + i);
  puts("re0: Ethernet address ");
  put_mac(my_mac);
  putc('\n');

  for (int i = 0; i < TX_DESCS; ++i) tx_ring[i] = (struct desc){0, 0, 0};
  for (int i = 0; i < RX_DESCS; ++i)
    rx_ring[i] = (struct desc){DESC_OWN | (i == RX_DESCS - 1 ? DESC_EOR : 0) | BUF_SIZE, 0,
                               (uint64_t)rx_buf[i]};
  re_w16(RE_CPLUSCMD, CPLUS_TX_ENB | CPLUS_RX_ENB);
  re_w32(RE_TXLIST_LO, (uint32_t)(uint64_t)tx_ring);
  re_w32(RE_TXLIST_HI, 0);
  re_w32(RE_RXLIST_LO, (uint32_t)(uint64_t)rx_ring);
  re_w32(RE_RXLIST_HI, 0);
  re_w8(RE_CMD, CMD_TX_ENB | CMD_RX_ENB);
  re_w32(RE_TXCFG, TXCFG_IFG_MXDMA);
  re_w32(RE_RXCFG, RXCFG_APM_AM_AB | RXCFG_MXDMA_UNLIMITED);
  re_w16(RE_ISR, 0xFFFF);
  re_w16(RE_IMR, RE_INTRS);
  re_w32(RE_TIMERINT, notimer ? 0 : RE_TIMERINT_VALUE);
  return 1;
}

/* ---- Ethernet, ARP, IPv4, UDP/DHCP, ICMP ---- */

static uint16_t be16(const uint8_t* p) {
  return (uint16_t)(p[0] << 8 | p[1]);
}
static void put16(uint8_t* p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v;
}
static uint32_t ld32(const uint8_t* p) { /* network order kept as is */
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}
static void st32(uint8_t* p, uint32_t v) {
  memcpy(p, &v, 4);
}
static uint16_t csum(const uint8_t* p, uint32_t len) {
  uint32_t s = 0;
  for (uint32_t i = 0; i + 1 < len; i += 2) s += be16(p + i);
  if (len & 1) s += (uint32_t)p[len - 1] << 8;
  while (s >> 16) s = (s & 0xFFFF) + (s >> 16);
  return (uint16_t)~s;
}
static int mac_eq(const uint8_t* a, const uint8_t* b) {
  for (int i = 0; i < 6; ++i)
    if (a[i] != b[i]) return 0;
  return 1;
}

static uint8_t pkt[BUF_SIZE];

static uint8_t* eth(const uint8_t* dst, uint16_t type) {
  memset(pkt, 0, sizeof pkt);
  memcpy(pkt, dst, 6);
  memcpy(pkt + 6, my_mac, 6);
  put16(pkt + 12, type);
  return pkt + 14;
}

static void arp_send(uint16_t op, const uint8_t* dst_mac, uint32_t dst_ip) {
  uint8_t* a = eth(op == 1 ? bcast : dst_mac, 0x0806);
  put16(a, 1);
  put16(a + 2, 0x0800);
  a[4] = 6, a[5] = 4;
  put16(a + 6, op);
  memcpy(a + 8, my_mac, 6);
  st32(a + 14, my_ip);
  if (op == 2) memcpy(a + 18, dst_mac, 6);
  st32(a + 24, dst_ip);
  re_send(pkt, 14 + 28);
}

/* IPv4 header at ip, payload already in place; returns the frame length. */
static uint32_t ip_finish(uint8_t* ip, uint8_t proto, uint32_t src, uint32_t dst, uint32_t plen) {
  ip[0] = 0x45;
  put16(ip + 2, (uint16_t)(20 + plen));
  put16(ip + 4, 0);
  put16(ip + 6, 0);
  ip[8] = 64;
  ip[9] = proto;
  st32(ip + 12, src);
  st32(ip + 16, dst);
  put16(ip + 10, csum(ip, 20));
  return 14 + 20 + plen;
}

static void dhcp_send(int type) {
  uint8_t* ip = eth(bcast, 0x0800);
  uint8_t* udp = ip + 20;
  uint8_t* bp = udp + 8;
  bp[0] = 1, bp[1] = 1, bp[2] = 6; /* BOOTREQUEST, Ethernet */
  uint32_t xid = DHCP_XID;
  bp[4] = (uint8_t)(xid >> 24), bp[5] = (uint8_t)(xid >> 16), bp[6] = (uint8_t)(xid >> 8),
  bp[7] = (uint8_t)xid;
  put16(bp + 10, 0x8000); /* broadcast flag */
  memcpy(bp + 28, my_mac, 6);
  uint8_t* o = bp + 236;
  o[0] = 99, o[1] = 130, o[2] = 83, o[3] = 99; /* magic cookie */
  o += 4;
  *o++ = 53, *o++ = 1, *o++ = (uint8_t)type;
  if (type == 3) {
    *o++ = 50, *o++ = 4, st32(o, offered_ip), o += 4;
    *o++ = 54, *o++ = 4, st32(o, server_ip), o += 4;
  }
  *o++ = 55, *o++ = 3, *o++ = 1, *o++ = 3, *o++ = 6; /* mask, router, DNS */
  *o++ = 255;
  uint32_t ulen = (uint32_t)(o - udp);
  put16(udp, 68);
  put16(udp + 2, 67);
  put16(udp + 4, (uint16_t)ulen);
  put16(udp + 6, 0); /* no UDP checksum */
  re_send(pkt, ip_finish(ip, 17, 0, 0xFFFFFFFFu, ulen));
}

static void dhcp_input(const uint8_t* bp, uint32_t len) {
  if (len < 240 || bp[0] != 2) return;
  uint32_t xid = (uint32_t)bp[4] << 24 | (uint32_t)bp[5] << 16 | (uint32_t)bp[6] << 8 | bp[7];
  if (xid != DHCP_XID || !mac_eq(bp + 28, my_mac)) return;
  if (!(bp[236] == 99 && bp[237] == 130 && bp[238] == 83 && bp[239] == 99)) return;
  int type = 0;
  uint32_t sid = 0, router = 0;
  for (uint32_t i = 240; i < len && bp[i] != 255;) {
    if (bp[i] == 0) {
      ++i;
      continue;
    }
    if (i + 2 > len || i + 2 + bp[i + 1] > len) break;
    uint8_t code = bp[i], olen = bp[i + 1];
    if (code == 53 && olen >= 1) type = bp[i + 2];
    if (code == 54 && olen >= 4) sid = ld32(bp + i + 2);
    if (code == 3 && olen >= 4) router = ld32(bp + i + 2);
    i += 2u + olen;
  }
  if (type == 2 && dhcp_state == DHCP_SELECTING) { /* OFFER */
    offered_ip = ld32(bp + 16);
    server_ip = sid;
    router_ip = router;
    dhcp_state = DHCP_OFFERED;
  } else if (type == 5 && dhcp_state == DHCP_REQUESTING) { /* ACK */
    my_ip = ld32(bp + 16);
    if (router) router_ip = router;
    dhcp_state = DHCP_BOUND;
  } else if (type == 6 && dhcp_state == DHCP_REQUESTING) {
    dhcp_state = DHCP_NAK;
  }
}

static void ping_send(uint16_t seq) {
  uint8_t* ip = eth(gw_mac, 0x0800);
  uint8_t* icmp = ip + 20;
  icmp[0] = 8; /* echo request */
  put16(icmp + 4, PING_ID);
  put16(icmp + 6, seq);
  for (int i = 0; i < PING_DATA; ++i) icmp[8 + i] = (uint8_t)i;
  put16(icmp + 2, csum(icmp, 8 + PING_DATA));
  re_send(pkt, ip_finish(ip, 1, my_ip, router_ip, 8 + PING_DATA));
}

static void ip_input(const uint8_t* ip, uint32_t len) {
  if (len < 20 || (ip[0] >> 4) != 4) return;
  uint32_t ihl = (ip[0] & 15) * 4u, tot = be16(ip + 2);
  if (ihl < 20 || tot > len || tot < ihl) return;
  const uint8_t* pl = ip + ihl;
  uint32_t plen = tot - ihl;
  if (ip[9] == 17 && plen >= 8 && be16(pl + 2) == 68) {
    dhcp_input(pl + 8, plen - 8);
  } else if (ip[9] == 1 && plen >= 8 && pl[0] == 0 && be16(pl + 4) == PING_ID && my_ip &&
             ld32(ip + 16) == my_ip) {
    uint16_t seq = be16(pl + 6);
    if (flood) {
      if (seq == flood_replies) ++flood_replies;
    } else if (seq < PING_COUNT && !(ping_replies & (1u << seq))) {
      ping_replies |= 1u << seq;
      put_dec(plen);
      puts(" bytes from ");
      put_ip(ld32(ip + 12));
      puts(": icmp_seq=");
      put_dec(seq);
      putc('\n');
    }
  }
}

static void net_input(const uint8_t* p, uint32_t len) {
  if (len < 14) return;
  if (!mac_eq(p, my_mac) && !mac_eq(p, bcast)) return;
  uint16_t type = be16(p + 12);
  const uint8_t* a = p + 14;
  if (type == 0x0806 && len >= 14 + 28 && be16(a + 6) == 1 && my_ip && ld32(a + 24) == my_ip) {
    arp_send(2, a + 8, ld32(a + 14)); /* who-has us: reply */
  } else if (type == 0x0806 && len >= 14 + 28 && be16(a + 6) == 2 && router_ip &&
             ld32(a + 14) == router_ip) {
    memcpy(gw_mac, a + 8, 6);
    gw_known = 1;
  } else if (type == 0x0800) {
    ip_input(a, len - 14);
  }
}

/* ---- time, waiting ---- */

static void on_clock(struct frame* f) {
  (void)f;
  ++ticks;
}

/* Interrupts off outside the HLT; the watchdog is checked on every wake-up
 * (NetBSD's if_slowtimo runs once a second; 10 ms granularity here). */
#define WAIT_UNTIL(cond, timeout_ticks)                                   \
  ({                                                                      \
    uint32_t until_ = ticks + (timeout_ticks);                            \
    int ok_ = 0;                                                          \
    for (;;) {                                                            \
      cli();                                                              \
      if (watchdog_at && (int32_t)(ticks - watchdog_at) >= 0) watchdog(); \
      if (cond) {                                                         \
        ok_ = 1;                                                          \
        break;                                                            \
      }                                                                   \
      if ((int32_t)(ticks - until_) >= 0) break;                          \
      sti_hlt();                                                          \
    }                                                                     \
    ok_;                                                                  \
  })

static void watchdog(void) __attribute__((noreturn));
static void watchdog(void) {
  puts("re0: watchdog timeout\n");
  exit(EXIT_WATCHDOG);
}

static void panic_no_intr(const char* why) __attribute__((noreturn));
static void panic_no_intr(const char* why) {
  puts("re0: ");
  puts(why);
  puts("\nre0: couldn't map interrupt\npanic: no interrupt routing for PCI devices\n");
  exit(EXIT_NO_INTR);
}

static int has_word(const struct mb_info* info, const char* w) {
  if (!(info->flags & MB_INFO_CMDLINE) || !info->cmdline) return 0;
  const char* s = (const char*)(uint64_t)info->cmdline;
  for (; *s; ++s) {
    int i = 0;
    while (w[i] && s[i] == w[i]) ++i;
    if (!w[i]) return 1;
  }
  return 0;
}

int main(uint32_t magic, struct mb_info* info) {
  int notimer = magic == MB_BOOTLOADER_MAGIC && has_word(info, "notimer");
  flood = magic == MB_BOOTLOADER_MAGIC && has_word(info, "flood");

  /* mpacpi: evaluate _PIC(1); without it, fall back to the MP table. */
  if (acpi_find(&acpi)) {
    if (acpi_dsdt_has_pic_method(&acpi))
      puts("mpacpi: _PIC(1): APIC mode\n");
    else
      puts("mpacpi: switch to APIC mode failed\n");
  } else {
    puts("acpi: no RSDP\n");
  }

  /* mpbios */
  if (!mp_find(&mp) || !mp.nioapics) {
    puts("mpbios: no usable MP table\n");
    panic_no_intr("no PCI interrupt routing (no MP table)");
  }
  for (int i = 0; i < mp.nbuses; ++i) {
    puts("mpbios: bus ");
    put_dec(mp.bus[i].id);
    puts(" is type ");
    puts(mp.bus[i].type);
    putc('\n');
  }

  /* pci0: find the RTL8139C+. */
  int dev = -1;
  for (int d = 0; d < 32 && dev < 0; ++d)
    if (pci_read32(0, d, 0, PCI_VENDOR) == 0x813910ECu && pci_read8(0, d, 0, PCI_REVISION) >= 0x20)
      dev = d;
  if (dev < 0) {
    puts("re0: no RTL8139C+ on pci0\n");
    return EXIT_NO_DEVICE;
  }
  puts("re0 at pci0 dev ");
  put_dec((uint64_t)dev);
  puts(" function 0: RealTek 8139C+ 10/100BaseTX (rev. ");
  put_hex(pci_read8(0, dev, 0, PCI_REVISION));
  puts(")\n");

  int pin = pci_read8(0, dev, 0, PCI_INTERRUPT_PIN);
  const struct mp_int* route = 0;
  int r = mp_route_pci(&mp, 0, dev, pin, &route);
  if (r == MP_ROUTE_NO_BUS) panic_no_intr("no PCI interrupt routing (no PCI bus in MP table)");
  if (r != MP_ROUTE_OK) panic_no_intr("no MP mapping for its interrupt pin");
  int ioapic_index = mp_ioapic_index(&mp, route->dst_id);
  if (ioapic_index < 0) panic_no_intr("interrupt routed to an unknown I/O APIC");
  uint64_t ioapic = mp.ioapic[ioapic_index].addr;
  puts("re0: interrupting at ioapic ");
  put_dec(route->dst_id);
  puts(" pin ");
  put_dec(route->dst_pin);
  putc('\n');

  /* The clock: ISA IRQ 0 through the I/O APIC. */
  const struct mp_int* clk = 0;
  if (mp_route_isa(&mp, 0, &clk) != MP_ROUTE_OK || mp_ioapic_index(&mp, clk->dst_id) < 0) {
    puts("mpbios: no route for the clock (ISA IRQ 0)\n");
    panic_no_intr("no clock");
  }
  uint64_t clk_ioapic = mp.ioapic[mp_ioapic_index(&mp, clk->dst_id)].addr;

  /* APIC mode. */
  outb(0x21, 0xFF);
  outb(0xA1, 0xFF);
  if (mp.features2 & 0x80) imcr_apic_mode();
  lapic_set_base(mp.lapic_addr);
  lapic_enable();
  vector_register(VEC_CLOCK, on_clock);
  vector_register(VEC_NIC, re_intr);
  pit_start(HZ, 2);
  ioapic_route(clk_ioapic, clk->dst_pin, VEC_CLOCK, ioapic_flags_from_mp(clk->flags, 0),
               (uint8_t)lapic_id());

  if (!re_attach(dev, notimer)) return EXIT_NO_DEVICE;
  ioapic_route(ioapic, route->dst_pin, VEC_NIC, ioapic_flags_from_mp(route->flags, 1),
               (uint8_t)lapic_id());

  /* dhclient re0 */
  dhcp_state = DHCP_SELECTING;
  dhcp_send(1);
  if (!WAIT_UNTIL(dhcp_state == DHCP_OFFERED, 10 * HZ)) {
    puts("DHCP: no offer\n");
    return EXIT_NO_DEVICE;
  }
  dhcp_state = DHCP_REQUESTING;
  dhcp_send(3);
  if (!WAIT_UNTIL(dhcp_state != DHCP_REQUESTING, 10 * HZ) || dhcp_state != DHCP_BOUND) {
    puts("DHCP: no acknowledgement\n");
    return EXIT_NO_DEVICE;
  }
  puts("DHCP: lease ");
  put_ip(my_ip);
  puts(" from ");
  put_ip(server_ip);
  puts(", router ");
  put_ip(router_ip);
  putc('\n');

  /* ping 10.0.2.2 */
  cli();
  arp_send(1, bcast, router_ip);
  if (!WAIT_UNTIL(gw_known, 5 * HZ)) {
    puts("arp: no reply from the router\n");
    return EXIT_NO_DEVICE;
  }
  puts("PING ");
  put_ip(router_ip);
  puts(" (");
  put_ip(router_ip);
  puts("): 56 data bytes\n");
  if (flood) {
    for (uint32_t seq = 0; seq < FLOOD_COUNT; ++seq) {
      cli();
      ping_send((uint16_t)seq);
      if (!WAIT_UNTIL(flood_replies > seq, HZ)) break;
    }
    cli();
    puts("flood: ");
    put_dec(flood_replies);
    puts(" of 200 replies\n");
    return flood_replies == FLOOD_COUNT ? EXIT_PASS : EXIT_PING_LOST;
  }
  for (int seq = 0; seq < PING_COUNT; ++seq) {
    cli();
    ping_send((uint16_t)seq);
    uint32_t next = ticks + HZ;
    WAIT_UNTIL((int32_t)(ticks - next) >= 0, HZ + 1);
  }
  /* The last reply, and every transmitted descriptor reaped (else the
   * watchdog fires). */
  WAIT_UNTIL(ping_replies == (1u << PING_COUNT) - 1 && tx_free == TX_DESCS, 10 * HZ);
  cli();
  int got = 0;
  for (int i = 0; i < PING_COUNT; ++i) got += (ping_replies >> i) & 1;
  puts("--- ");
  put_ip(router_ip);
  puts(" ping statistics ---\n3 packets transmitted, ");
  put_dec((uint64_t)got);
  puts(" packets received\n");
  return got == PING_COUNT ? EXIT_PASS : EXIT_PING_LOST;
}
