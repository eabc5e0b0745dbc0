/* XML to JSON: a POSTed order
 *     <order><customer>Ann</customer><item sku="X1"/></order>
 * is answered (from a forged, uncached backend response) with
 *     {"customer":"Ann","sku":"X1"}
 * using the host's XML helpers; a malformed document gets 400 and the
 * parser's message. Other methods pass through to the backend. */
#include <rvedge.h>

#include <stdlib.h>
#include <string.h>

/* A growable string; an allocation failure aborts (the request dies). Nothing
 * is freed: the whole fork is thrown away after the request. */
typedef struct {
    char *bytes;
    size_t len;
    size_t cap;
} buffer;

static void buffer_reserve(buffer *b, size_t extra) {
    if (b->len + extra <= b->cap) {
        return;
    }
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra) {
        cap *= 2;
    }
    b->bytes = realloc(b->bytes, cap);
    if (b->bytes == NULL) {
        abort();
    }
    b->cap = cap;
}

static void buffer_add(buffer *b, const char *bytes, size_t len) {
    buffer_reserve(b, len);
    memcpy(b->bytes + b->len, bytes, len);
    b->len += len;
}

static void buffer_add_str(buffer *b, const char *s) { buffer_add(b, s, strlen(s)); }

/* Adds `len` bytes as the inside of a JSON string: '"' and '\\' escaped, and
 * control characters too, so the result is always valid JSON. */
static void buffer_add_json_escaped(buffer *b, const char *s, size_t len) {
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char escaped[2] = {'\\', (char)c};
            buffer_add(b, escaped, 2);
        } else if (c < 0x20) {
            char escaped[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf]};
            buffer_add(b, escaped, 6);
        } else {
            buffer_add(b, (const char *)&c, 1);
        }
    }
}

/* Output-buffer call pattern: try a stack buffer, and if the host reports a
 * longer result, call again with a buffer of exactly that size. The result
 * replaces b's contents; returns the call's result (negative: nothing read). */
typedef int64_t (*output_call)(const void *context, char *out, size_t cap);

static int64_t read_output(buffer *b, output_call call, const void *context) {
    /* Never hand the host a NULL pointer, not even for an empty range. */
    buffer_reserve(b, 1);
    char small[512];
    int64_t len = call(context, small, sizeof small);
    b->len = 0;
    if (len < 0) {
        return len;
    }
    if (len <= (int64_t)sizeof small) {
        buffer_add(b, small, (size_t)len);
        return len;
    }
    buffer_reserve(b, (size_t)len);
    len = call(context, b->bytes, (size_t)len);
    b->len = len < 0 ? 0 : (size_t)len;
    return len;
}

static int64_t call_body_get(const void *context, char *out, size_t cap) {
    (void)context;
    return rvedge_body_get(out, cap);
}

static int64_t call_xml_validate(const void *context, char *out, size_t cap) {
    const buffer *doc = context;
    return rvedge_xml_validate(doc->bytes, doc->len, out, cap);
}

struct query {
    const buffer *doc;
    const char *path;
};

static int64_t call_xml_query(const void *context, char *out, size_t cap) {
    const struct query *q = context;
    return rvedge_xml_query(q->doc->bytes, q->doc->len, q->path, strlen(q->path), out, cap);
}

/* Adds "name":"<value at path, or empty>" to json. */
static void add_field(buffer *json, const char *name, const buffer *doc, const char *path) {
    buffer value = {0};
    struct query q = {doc, path};
    read_output(&value, call_xml_query, &q); /* absent leaves value empty */
    buffer_add_str(json, "\"");
    buffer_add_str(json, name);
    buffer_add_str(json, "\":\"");
    buffer_add_json_escaped(json, value.bytes, value.len);
    buffer_add_str(json, "\"");
}

static void respond(uint64_t status, const char *content_type, const buffer *body) {
    rvedge_respond(status, content_type, strlen(content_type), body->bytes, body->len);
}

static void convert(rvedge_word data, rvedge_word bereq, rvedge_word beresp) {
    (void)data;
    (void)bereq;
    (void)beresp;
    buffer doc = {0};
    read_output(&doc, call_body_get, NULL);
    buffer error = {0};
    if (read_output(&error, call_xml_validate, &doc) > 0) {
        buffer text = {0};
        buffer_add_str(&text, "invalid XML: ");
        buffer_add(&text, error.bytes, error.len);
        respond(400, "text/plain", &text);
        return;
    }
    buffer json = {0};
    buffer_add_str(&json, "{");
    add_field(&json, "customer", &doc, "/order/customer");
    buffer_add_str(&json, ",");
    add_field(&json, "sku", &doc, "/order/item/@sku");
    buffer_add_str(&json, "}");
    respond(200, "application/json", &json);
}

static void on_recv(rvedge_word data, rvedge_word req, rvedge_word resp) {
    (void)data;
    (void)resp;
    char method[16];
    int64_t len = rvedge_method_get(req, method, sizeof method);
    if (len == 4 && memcmp(method, "POST", 4) == 0) {
        rvedge_forge(RVEDGE_UNCACHED, convert, 0);
    }
}

int main(void) {
    rvedge_wait_for_requests(on_recv, 0);
}
