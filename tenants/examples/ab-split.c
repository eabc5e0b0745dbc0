/* A/B test: the "uid" cookie picks a stable group, "a" or "b" (no uid:
 * "a"). The group goes to the backend "ab-<group>", into the request as
 * X-AB-Group, into the cache key (so the groups never share cached objects)
 * and into the response as X-AB-Group. */
#include <rvedge.h>

#include <stdlib.h>
#include <string.h>

/* FNV-1a, 32 bit. */
static uint32_t fnv1a(const char *bytes, size_t len) {
    uint32_t hash = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        hash ^= (unsigned char)bytes[i];
        hash *= 16777619u;
    }
    return hash;
}

static int is_space(char c) { return c == ' ' || c == '\t'; }

/* Finds cookie `name` in a Cookie header ("a=b; c=d"). On success points
 * *value at its (trimmed) value inside `header` and returns 1. */
static int find_cookie(const char *header, size_t header_len, const char *name,
                       const char **value, size_t *value_len) {
    size_t name_len = strlen(name);
    const char *end = header + header_len;
    const char *pair = header;
    while (pair < end) {
        const char *pair_end = memchr(pair, ';', (size_t)(end - pair));
        if (pair_end == NULL) {
            pair_end = end;
        }
        const char *equals = memchr(pair, '=', (size_t)(pair_end - pair));
        if (equals != NULL) {
            const char *key = pair;
            const char *key_end = equals;
            while (key < key_end && is_space(*key)) key++;
            while (key_end > key && is_space(key_end[-1])) key_end--;
            if ((size_t)(key_end - key) == name_len && memcmp(key, name, name_len) == 0) {
                const char *v = equals + 1;
                const char *v_end = pair_end;
                while (v < v_end && is_space(*v)) v++;
                while (v_end > v && is_space(v_end[-1])) v_end--;
                *value = v;
                *value_len = (size_t)(v_end - v);
                return 1;
            }
        }
        pair = pair_end + 1;
    }
    return 0;
}

/* Computed afresh in every hook from the request's Cookie header, so no hook
 * depends on state left by another. */
static const char *group_of(uint64_t req) {
    char small[1024];
    char *cookies = small;
    int64_t len = rvedge_header_get(req, "Cookie", 6, cookies, sizeof small);
    if (len < 0) {
        return "a"; /* no Cookie header */
    }
    if (len > (int64_t)sizeof small) {
        cookies = malloc((size_t)len);
        if (cookies == NULL) {
            abort();
        }
        len = rvedge_header_get(req, "Cookie", 6, cookies, (size_t)len);
    }
    const char *group = "a";
    const char *uid;
    size_t uid_len;
    if (find_cookie(cookies, (size_t)len, "uid", &uid, &uid_len)) {
        group = fnv1a(uid, uid_len) % 100 < 50 ? "a" : "b";
    }
    if (cookies != small) {
        free(cookies);
    }
    return group;
}

static void on_recv(rvedge_word data, rvedge_word req, rvedge_word resp) {
    (void)data;
    (void)resp;
    const char *group = group_of(req);
    char backend[8] = "ab-";
    strcat(backend, group);
    rvedge_header_set_str(req, "X-AB-Group", group);
    rvedge_backend_set_str(backend);
}

static void on_hash(rvedge_word data, rvedge_word req, rvedge_word resp) {
    (void)data;
    (void)resp;
    rvedge_hash_add_str(group_of(req));
}

static void on_deliver(rvedge_word data, rvedge_word req, rvedge_word resp) {
    (void)data;
    rvedge_header_set_str(resp, "X-AB-Group", group_of(req));
}

int main(void) {
    rvedge_set_hook(RVEDGE_HOOK_ON_HASH, on_hash, 0);
    rvedge_set_hook(RVEDGE_HOOK_ON_DELIVER, on_deliver, 0);
    rvedge_wait_for_requests(on_recv, 0);
}
