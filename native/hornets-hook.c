/*
 * hornets-hook, native: the command hook client Claude Code (and the command-only Codex and Gemini)
 * run on every tool call. It speaks exactly the protocol of bin/hornets-hook (the bash client,
 * which stays as the fallback when no C compiler was there at build time), but starts in well
 * under a millisecond where bash alone takes ~16 ms on a slow machine.
 *
 * Usage (written by `hornets-tui hooks install`): hornets-hook-native <node> <Event>
 *         hornets-hook-native --probe   (prints the protocol version; lets the installer check
 *                                        that the built binary runs on this machine)
 *
 * 1. The payload (stdin, at most 8 MiB: the daemon and the Node entry refuse more) goes to the
 *    running daemon: POST /hook/<Event> on 127.0.0.1:<port> (the first field of
 *    $HORNETS_HOME/run/hook-endpoint), with X-Hornets-Defer-Ack: 1 and this agent generation's own
 *    credential: $HORNETS_HOOK_TOKEN is "<client>.<proof>", the client part is sent (with the
 *    agent and generation, both required), and the daemon acts for this agent only.
 * 2. The answer counts only with status 200 and X-Hornets-Server equal to the proof part: a
 *    daemon killed -9 leaves a stale endpoint file whose port another local process may hold, and
 *    nothing a stranger says may reach the agent. One 2 s deadline covers connect, request and the
 *    whole answer, so a hung daemon or a stranger trickling bytes never stalls the agent.
 * 3. Any failure before that proof: the Node entry `<node> <dir>/hornets-hook.cjs <Event>` (it
 *    opens the database itself) with the payload on its stdin, from a memory file (or an unlinked
 *    temp file): no background writer, nothing left holding stdout. We wait for it, then exit 0.
 * 4. After the proof our daemon has answered and is never asked twice: the body (Content-Length
 *    bytes) is printed whole or not at all (a cut-off reply's messages lapse and come again), and
 *    only once it is written do we POST /ack with X-Hornets-Ack and wait for its answer, so the
 *    ack is in before the agent's next event can confirm it (exactly-once display).
 *
 * A hook must never break or block the agent: every path exits 0 and SIGPIPE is ignored.
 * libc only, POSIX plus memfd_create on Linux; builds on macOS too.
 */
#if defined(__linux__)
#define _GNU_SOURCE
#else
#define _DARWIN_C_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/syscall.h>
#endif

/* Printed by --probe; src/services/hooks-program.ts installs this binary only when it matches. */
#define PROBE_LINE "hornets-hook-native 2"
#define MAX_PAYLOAD (8 * 1024 * 1024)
#define DEADLINE_MS 2000
/* Status line and headers: our daemon sends a few hundred bytes; more means it is not ours. */
#define MAX_HEAD (64 * 1024)
#define MAX_HEADER_LINES 100
/* A reply bigger than this is not something we would print into an agent's context. */
#define MAX_REPLY (64 * 1024 * 1024)

static const char *node_bin;
static const char *event;
/* The word after the event in the hook command: which CLI runs the hook (NULL: Claude Code). */
static const char *protocol;
static char self_dir[PATH_MAX];
static char *payload;
static size_t payload_len;

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd is ready for `ev`; deadline < 0 waits without one. 0 ready, -1 deadline/error. */
static int wait_fd(int fd, short ev, long long deadline) {
  for (;;) {
    int timeout = -1;
    if (deadline >= 0) {
      long long left = deadline - now_ms();
      if (left <= 0) return -1;
      timeout = (int)left;
    }
    struct pollfd p = {fd, ev, 0};
    int r = poll(&p, 1, timeout);
    if (r > 0) return 0; /* readable, writable, or hung up: the next read/write tells which */
    if (r == 0) return -1;
    if (errno != EINTR) return -1;
  }
}

static int write_all(int fd, const char *buf, size_t len, long long deadline) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n > 0) {
      buf += n;
      len -= (size_t)n;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (wait_fd(fd, POLLOUT, deadline) < 0) return -1;
    } else {
      return -1;
    }
  }
  return 0;
}

/* Reads at most cap bytes into buf; returns bytes read, 0 at end of stream, -1 on error/deadline. */
static ssize_t read_some(int fd, char *buf, size_t cap, long long deadline) {
  for (;;) {
    ssize_t n = read(fd, buf, cap);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
    if (wait_fd(fd, POLLIN, deadline) < 0) return -1;
  }
}

/* The whole of stdin, up to MAX_PAYLOAD + 1 bytes (one more tells "too big"). */
static int read_payload(void) {
  size_t cap = 64 * 1024;
  payload = malloc(cap);
  if (!payload) return -1;
  for (;;) {
    if (payload_len == cap) {
      if (cap > MAX_PAYLOAD) break;
      size_t next = cap * 2 > MAX_PAYLOAD + 1 ? MAX_PAYLOAD + 1 : cap * 2;
      char *p = realloc(payload, next);
      if (!p) return -1;
      payload = p;
      cap = next;
    }
    ssize_t n = read_some(0, payload + payload_len, cap - payload_len, -1);
    if (n < 0) {
      /* No stdin at all (closed) is an empty payload; a read error mid-way is a broken one. */
      if (payload_len == 0 && errno == EBADF) break;
      return -1;
    }
    if (n == 0) break;
    payload_len += (size_t)n;
  }
  return 0;
}

static int known_event(const char *e) {
  static const char *const events[] = {"SessionStart", "UserPromptSubmit", "PostToolUse", "Stop", "PreCompact", "Notification", "SessionEnd", "StopFailure", "PermissionRequest", "PreToolUse",
                                        /* Gemini CLI's names for its events. */
                                        "BeforeAgent", "AfterTool", "AfterAgent", "BeforeModel"};
  for (size_t i = 0; i < sizeof events / sizeof events[0]; i++)
    if (strcmp(e, events[i]) == 0) return 1;
  return 0;
}

/* A protocol word: lower-case letters and '-', at most 32 (it becomes a header and an argument). */
static int protocol_safe(const char *p) {
  size_t n = 0;
  for (; *p; p++, n++)
    if (!((*p >= 'a' && *p <= 'z') || *p == '-') || n >= 32) return 0;
  return 1;
}

/* A header value we may send: printable ASCII only (no CR/LF smuggling a second header). */
static int header_safe(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e) return 0;
  return 1;
}

static void find_self_dir(const char *argv0) {
  const char *slash = strrchr(argv0, '/');
  if (slash && (size_t)(slash - argv0) < sizeof self_dir) {
    size_t n = (size_t)(slash - argv0);
    if (n == 0) n = 1; /* "/hornets-hook-native" */
    memcpy(self_dir, argv0, n);
    self_dir[n] = '\0';
    return;
  }
#if defined(__linux__)
  ssize_t n = readlink("/proc/self/exe", self_dir, sizeof self_dir - 1);
  if (n > 0) {
    self_dir[n] = '\0';
    char *s = strrchr(self_dir, '/');
    if (s) {
      *s = '\0';
      return;
    }
  }
#endif
  strcpy(self_dir, ".");
}

/* An fd holding the payload, positioned at 0, for the Node entry's stdin; -1 if none could be made. */
static int payload_fd(void) {
  int fd = -1;
#if defined(__linux__) && defined(SYS_memfd_create)
  fd = (int)syscall(SYS_memfd_create, "hornets-hook-payload", 1U /* MFD_CLOEXEC */);
#endif
  if (fd < 0) {
    const char *dir = getenv("TMPDIR");
    char path[PATH_MAX];
    if (!dir || !*dir || snprintf(path, sizeof path, "%s/hornets-hook-XXXXXX", dir) >= (int)sizeof path) strcpy(path, "/tmp/hornets-hook-XXXXXX");
    fd = mkstemp(path);
    if (fd < 0) return -1;
    unlink(path);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  if (write_all(fd, payload, payload_len, -1) < 0 || lseek(fd, 0, SEEK_SET) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/* The Node entry with the payload on its stdin; we wait for it (it has its own 7 s deadline). */
static void fallback(void) {
  char script[PATH_MAX + 64];
  snprintf(script, sizeof script, "%s/hornets-hook.cjs", self_dir);
  /* Built into dist/: the Node entry lives beside the bash client in bin/. */
  if (access(script, R_OK) != 0) snprintf(script, sizeof script, "%s/../bin/hornets-hook.cjs", self_dir);
  int fd = payload_fd();
  pid_t pid = fork();
  if (pid == 0) {
    int in = fd >= 0 ? fd : open("/dev/null", O_RDONLY);
    if (in >= 0 && in != 0) dup2(in, 0);
    signal(SIGPIPE, SIG_DFL);
    char *const args[] = {(char *)node_bin, script, (char *)event, (char *)protocol, NULL};
    execv(node_bin, args);
    _exit(0);
  }
  if (fd >= 0) close(fd);
  if (pid > 0) {
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  exit(0);
}

static int connect_loopback(int port, long long deadline) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((unsigned short)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) return fd;
  if (errno == EINPROGRESS || errno == EINTR) {
    int err = 0;
    socklen_t len = sizeof err;
    if (wait_fd(fd, POLLOUT, deadline) == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) return fd;
  }
  close(fd);
  return -1;
}

/* Trims spaces and tabs at both ends, in place. */
static char *trim(char *s) {
  while (*s == ' ' || *s == '\t') s++;
  size_t n = strlen(s);
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) s[--n] = '\0';
  return s;
}

static int parse_port(const char *s) {
  long v = 0;
  if (!*s) return -1;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return -1;
    v = v * 10 + (*s - '0');
    if (v > 65535) return -1;
  }
  return v > 0 ? (int)v : -1;
}

/* POST /ack, then wait (up to 2 s) for the first line of its answer. */
static void post_ack(int port, const char *token, const char *agent, const char *gen, const char *ack) {
  if (!header_safe(ack)) return;
  long long deadline = now_ms() + DEADLINE_MS;
  int fd = connect_loopback(port, deadline);
  if (fd < 0) return;
  size_t cap = strlen(token) + strlen(agent) + strlen(gen) + strlen(ack) + 250;
  char *req = malloc(cap);
  if (!req) return;
  int n = snprintf(req, cap, "POST /ack HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Hornets-Token: %s\r\nX-Hornets-Agent: %s\r\nX-Hornets-Generation: %s\r\nX-Hornets-Ack: %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
               token, agent, gen, ack);
  if (n > 0 && (size_t)n < cap && write_all(fd, req, (size_t)n, deadline) == 0) {
    char buf[512];
    for (;;) {
      ssize_t r = read_some(fd, buf, sizeof buf, deadline);
      if (r <= 0 || memchr(buf, '\n', (size_t)r)) break;
    }
  }
  close(fd);
}

/* Returns only when the daemon could not be used (before its proof): the caller falls back. */
static void via_daemon(const char *agent) {
  const char *home = getenv("HORNETS_HOME");
  const char *gen = getenv("HORNETS_GENERATION");
  const char *cred = getenv("HORNETS_HOOK_TOKEN");
  if (!home || !*home || !header_safe(agent) || !gen || !*gen || strspn(gen, "0123456789") != strlen(gen)) return;
  /* "<client>.<proof>": without it the Node entry refuses too, and logs why. */
  if (!cred || strlen(cred) > 256 || strspn(cred, "0123456789abcdef.") != strlen(cred)) return;
  char token[257];
  strcpy(token, cred);
  char *server = strchr(token, '.');
  if (!server || server == token || !server[1]) return;
  *server++ = '\0';

  /* The endpoint file: "<port> <CLI token> <CLI server token>"; a hook needs only the port. */
  char path[PATH_MAX];
  if (snprintf(path, sizeof path, "%s/run/hook-endpoint", home) >= (int)sizeof path) return;
  int efd = open(path, O_RDONLY | O_CLOEXEC);
  if (efd < 0) return;
  char ep[1024];
  ssize_t en = read_some(efd, ep, sizeof ep - 1, -1);
  close(efd);
  if (en <= 0) return;
  ep[en] = '\0';
  ep[strcspn(ep, "\r\n")] = '\0';
  char *save = NULL;
  char *port_s = strtok_r(ep, " \t", &save);
  if (!port_s) return;
  int port = parse_port(port_s);
  if (port < 0) return;

  long long deadline = now_ms() + DEADLINE_MS;
  int fd = connect_loopback(port, deadline);
  if (fd < 0) return;

  /* Head and payload in one buffer, one write: no Nagle wait between two segments. */
  char protocol_header[64] = "";
  if (protocol) snprintf(protocol_header, sizeof protocol_header, "X-Hornets-Protocol: %s\r\n", protocol);
  size_t head_cap = strlen(event) + strlen(token) + strlen(agent) + strlen(gen) + strlen(protocol_header) + 400;
  char *req = malloc(head_cap + payload_len);
  if (!req) {
    close(fd);
    return;
  }
  int hn = snprintf(req, head_cap,
                    "POST /hook/%s HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Hornets-Token: %s\r\nX-Hornets-Agent: %s\r\nX-Hornets-Generation: %s\r\n"
                    "X-Hornets-Defer-Ack: 1\r\n%sContent-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                    event, token, agent, gen, protocol_header, payload_len);
  if (hn <= 0 || (size_t)hn >= head_cap) {
    close(fd);
    return;
  }
  memcpy(req + hn, payload, payload_len);
  if (write_all(fd, req, (size_t)hn + payload_len, deadline) < 0) {
    close(fd);
    return;
  }
  free(req);

  /* Status line and headers, line by line as they arrive. */
  static char head[MAX_HEAD + 1];
  size_t have = 0, line_start = 0, body_start = 0;
  int lines = 0, status_ok = 0, done = 0;
  char *proof = NULL, *length_s = NULL, *ack = NULL;
  while (!done) {
    if (have == MAX_HEAD) break;
    ssize_t n = read_some(fd, head + have, MAX_HEAD - have, deadline);
    if (n <= 0) break;
    size_t scan = have;
    have += (size_t)n;
    for (size_t i = scan; i < have && !done; i++) {
      if (head[i] != '\n') continue;
      size_t end = i;
      if (end > line_start && head[end - 1] == '\r') end--;
      head[end] = '\0';
      char *line = head + line_start;
      line_start = i + 1;
      if (++lines > MAX_HEADER_LINES) break;
      if (lines == 1) {
        /* "HTTP/1.1 200 OK" */
        char *sp = strchr(line, ' ');
        status_ok = strncmp(line, "HTTP/", 5) == 0 && sp && strncmp(sp + 1, "200", 3) == 0 && (sp[4] == ' ' || sp[4] == '\0');
        if (!status_ok) break;
        continue;
      }
      if (*line == '\0') {
        done = 1;
        body_start = line_start;
        break;
      }
      char *colon = strchr(line, ':');
      if (!colon) continue;
      *colon = '\0';
      char *value = trim(colon + 1);
      if (strcasecmp(line, "x-hornets-server") == 0) proof = value;
      else if (strcasecmp(line, "content-length") == 0) length_s = value;
      else if (strcasecmp(line, "x-hornets-ack") == 0) ack = value;
    }
    if (lines > MAX_HEADER_LINES || (lines >= 1 && !status_ok)) break;
  }
  if (!done || !status_ok || !proof || strcmp(proof, server) != 0) {
    close(fd);
    return;
  }

  /* Our daemon answered: whatever goes wrong now, it must not be asked twice. */
  char *end = NULL;
  if (!length_s || !*length_s || strspn(length_s, "0123456789") != strlen(length_s)) exit(0);
  unsigned long long length = strtoull(length_s, &end, 10);
  if (length > MAX_REPLY) exit(0);
  char *body = malloc((size_t)length + 1);
  if (!body) exit(0);
  size_t got = have - body_start;
  if (got > length) got = (size_t)length;
  memcpy(body, head + body_start, got);
  while (got < length) {
    ssize_t n = read_some(fd, body + got, (size_t)length - got, deadline);
    if (n <= 0) break;
    got += (size_t)n;
  }
  close(fd);
  /* All or nothing: a cut-off reply is never printed (the lease lapses and it comes again). */
  if (got != length) exit(0);
  if (length > 0 && write_all(1, body, (size_t)length, -1) < 0) exit(0);
  if (ack && *ack) post_ack(port, token, agent, gen, ack);
  exit(0);
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  if (argc >= 2 && strcmp(argv[1], "--probe") == 0) {
    puts(PROBE_LINE);
    return 0;
  }
  if (argc < 3) return 0;
  node_bin = argv[1];
  event = argv[2];
  protocol = argc >= 4 ? argv[3] : NULL;
  if (protocol && !protocol_safe(protocol)) return 0;
  const char *agent = getenv("HORNETS_AGENT_ID");
  if (!known_event(event)) return 0;
  if (!agent || !*agent) {
    /* A task worker's one-shot run: the Node entry records the event in the run's directory. */
    const char *run_dir = getenv("HORNETS_RUN_DIR");
    const char *task = getenv("HORNETS_TASK_ID");
    if (run_dir && *run_dir && task && *task) {
      find_self_dir(argv[0]);
      if (read_payload() < 0 || payload_len > MAX_PAYLOAD) return 0;
      fallback();
    }
    /* Not one of ours (a user's own session in the same tree): do nothing at all. */
    return 0;
  }
  find_self_dir(argv[0]);
  if (read_payload() < 0 || payload_len > MAX_PAYLOAD) return 0;
  via_daemon(agent);
  fallback();
  return 0;
}
