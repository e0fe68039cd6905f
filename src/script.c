/* The Lua bridge.  One lua_State per struct rp_script, entered from C only
** through docall(): one lua_pcall of a C function under a traceback
** handler, with a deadline hook armed and the allocator's byte budget in
** force.  The script runs in its own _ENV whose __index is a table of the
** allowed library functions; what it returns is checked field by field and
** turned into events (JSON text as the request body carries it).
**
** Threads: one lua_State per worker thread, each owned by its own
** struct rp_script.  A state and everything in its rp_script (scratch
** buffers, limits, the record in progress) is used by one thread at a
** time; the pipeline (pipeline.c) gives each worker its own.  Nothing here
** is shared between states but read-only data (the registry keys are
** addresses of statics, the field name tables are const). */
#include "script.h"

#include <assert.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "json.h"
#include "jsv.h"
#include "msgset.h"

#ifndef RP_LUA_DIR
#define RP_LUA_DIR "/usr/local/share/replicator/lua"
#endif

/* The Debian lua-cjson library exports both openers; its header declares
** only the first. */
int luaopen_cjson(lua_State *L);
int luaopen_cjson_safe(lua_State *L);

/* Instructions between two looks at the clock. */
#define HOOK_COUNT 10000
#define MIB (1024u * 1024u)
#define MAX_KEY_SHOWN 200

/* The fields an event may have. */
static const char *const event_fields[] = {"stream", "type", "data", "metadata",
                                           "id"};
#define NFIELDS (sizeof(event_fields) / sizeof(event_fields[0]))

struct rp_script {
    lua_State *L;             /* its one state; NULL once closed */
    char *path;               /* the script as named by the user */
    char *dir;                /* its folder: require looks here first */
    char lua_dir[PATH_MAX];   /* the shipped library: require looks here next */
    size_t mem_used;          /* bytes the state holds */
    size_t mem_limit;         /* bytes it may hold */
    int mem_hit;              /* the allocator refused a block */
    uint64_t time_limit_ms;   /* per call */
    uint64_t deadline_ns;     /* rp_now_ns() value past which the hook fires */
    int timed_out;            /* the hook fired during this call */
    int source_metadata;      /* add replicatedFrom to metadata */
    uint64_t max_event_bytes; /* data + metadata per event */
    char *source_id;          /* for ids and replicatedFrom */
    struct rp_idgen idgen;    /* ids of 'source_id' */
    struct rp_msgset ms;      /* decoded payload of the record in progress */
    struct rp_buf data;       /* scratch: data text of the event in progress */
    struct rp_buf meta; /* scratch: metadata text of the event in progress */
    struct rp_buf tb;   /* full traceback of the last failure */
    struct rp_buf text; /* scratch: results of the jsv module */
    struct rp_buf src_meta;     /* replicatedFrom up to the store version:
                                   fixed by the source id */
    struct rp_buf rec_meta;     /* replicatedFrom from the store version to the
                                   index: fixed by the record in progress */
    int rec_meta_ok;            /* rec_meta holds the record in progress */
    const char *field[NFIELDS]; /* interned event_fields: a key is one of
                                   them when its pointer is */
    /* The call in progress. */
    const struct rp_record *rec; /* record given to convert() */
    struct rp_events *out;       /* where its events go */
    struct rp_config *cfg;       /* rp_script_read_config target */
    char fail[512];              /* a refusal found by the C side */
    int failed;                  /* 'fail' holds a message */
};

/* Registry keys: addresses of these. */
static char key_env;     /* the script's _ENV */
static char key_envmt;   /* metatable of every sandbox _ENV */
static char key_loaded;  /* modules loaded by require */
static char key_preload; /* C openers of cjson and cjson.safe */
static char key_encode;  /* the bridge's own cjson.encode */
static char key_rawjson; /* metatable that marks rawjson() values */
static char key_fields;  /* the event field names, kept interned */
static char key_convert; /* convert_entry with its upvalues */

/* Upvalues of convert_entry: the names it sets and reads, interned once,
** and the script's _ENV. */
enum {
    UV_KEY = 1,
    UV_STORE_VERSION,
    UV_STREAM_VERSION,
    UV_DATA,
    UV_ATTRIBUTES,
    UV_MESSAGES,
    UV_CONTRACT,
    UV_BODY,
    UV_CONVERT,
    UV_ENV, /* the last one: the names above come first, in this order */
};
static const char *const convert_names[] = {
    "key",      "store_version", "stream_version", "data",   "attributes",
    "messages", "contract",      "body",           "convert"};
_Static_assert(sizeof(convert_names) / sizeof(convert_names[0]) == UV_ENV - 1,
               "one name per upvalue before UV_ENV");

static int convert_entry(lua_State *L);

static struct rp_script *
script_of(lua_State *L)
{
    void *ud;

    lua_getallocf(L, &ud);
    return ud;
}

/* Refuse what the script returned: the message goes to the caller, not
** through Lua's error machinery (no traceback is wanted). */
static int refuse(struct rp_script *s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static int
refuse(struct rp_script *s, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(s->fail, sizeof(s->fail), fmt, ap);
    va_end(ap);
    s->failed = 1;
    return 0;
}

/* The allocator: realloc within a byte budget.  Returning NULL makes Lua
** raise LUA_ERRMEM, which stops the script instead of the process. */
static void *
budget_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct rp_script *s = ud;
    void *p;

    if (ptr == NULL)
        osize = 0; /* then osize tells the type of object, not a size */
    if (nsize == 0) {
        free(ptr);
        s->mem_used -= osize;
        return NULL;
    }
    if (nsize > osize && (s->mem_used > s->mem_limit ||
                          nsize - osize > s->mem_limit - s->mem_used)) {
        s->mem_hit = 1;
        return NULL;
    }
    p = ptr == NULL ? malloc(nsize) : realloc(ptr, nsize);
    if (p == NULL) {
        s->mem_hit = 1;
        return NULL;
    }
    s->mem_used = s->mem_used - osize + nsize;
    return p;
}

/* The deadline hook: a count hook that looks at the clock; once the time
** is up it raises an error and re-arms itself on every line, so that a
** pcall in the script cannot swallow the stop. */
static void
deadline_hook(lua_State *L, lua_Debug *ar)
{
    struct rp_script *s = script_of(L);

    (void)ar;
    if (!s->timed_out && rp_now_ns() < s->deadline_ns)
        return;
    s->timed_out = 1;
    lua_sethook(L, deadline_hook, LUA_MASKLINE, 0);
    luaL_where(L, 0); /* the running function's line */
    lua_pushfstring(L, "time limit of %d ms exceeded", (int)s->time_limit_ms);
    lua_concat(L, 2);
    lua_error(L);
}

/* Message handler: the error message plus a traceback. */
static int
msg_handler(lua_State *L) /* [-0, +1, m] */
{
    const char *msg = lua_tostring(L, 1);

    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            msg = lua_tostring(L, -1);
        else
            msg = lua_pushfstring(L, "(error object is a %s value)",
                                  luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

/* Shorten a Lua traceback to one line: the message, then the frames that
** are in Lua code ("file:line: in ..."), joined by "; ". */
static void
one_line(char *out, size_t size, const char *tb)
{
    const char *p = strstr(tb, "\nstack traceback:");
    size_t o = 0, n;
    int frames = 0;

    n = p ? (size_t)(p - tb) : strlen(tb);
    o = (size_t)snprintf(out, size, "%.*s", (int)n, tb);
    if (p == NULL || o >= size)
        return;
    p = strchr(p + 1, '\n');
    while (p != NULL && o < size) {
        const char *line = p + 1, *end = strchr(line, '\n');

        while (*line == '\t' || *line == ' ')
            line++;
        n = end ? (size_t)(end - line) : strlen(line);
        if (n > 0 && strncmp(line, "[C]", 3) != 0 &&
            strncmp(line, "(...", 4) != 0) {
            o += (size_t)snprintf(out + o, size - o, "%s%.*s",
                                  frames++ ? "; " : " (traceback: ", (int)n,
                                  line);
        }
        p = end;
    }
    if (frames && o < size)
        snprintf(out + o, size - o, ")");
    for (char *c = out; *c; c++)
        if (*c == '\n' || *c == '\t')
            *c = ' ';
}

/* Run f(s) under lua_pcall with the traceback handler, the deadline and
** the memory budget; when 'key' is not NULL the function called is instead
** the C closure kept in the registry at 'key'.  Returns 0, or
** RP_ESCRIPT/RP_ELIMIT with 'what' prefixed to the message in err. */
static int
docall(struct rp_script *s, lua_CFunction f, const void *key, const char *what,
       struct rp_error *err) /* [-0, +0, -] */
{
    lua_State *L = s->L;
    char line[512];
    const char *msg;
    int base, status, rc;

    lua_pushcfunction(L, msg_handler); /* cannot fail: light C function */
    base = lua_gettop(L);
    if (key != NULL)
        lua_rawgetp(L, LUA_REGISTRYINDEX, key); /* cannot fail: a raw read */
    else
        lua_pushcfunction(L, f);
    lua_pushlightuserdata(L, s);
    s->failed = 0;
    s->timed_out = 0;
    s->mem_hit = 0;
    s->deadline_ns = rp_now_ns() + s->time_limit_ms * 1000000u;
    lua_sethook(L, deadline_hook, LUA_MASKCOUNT, HOOK_COUNT);
    status = lua_pcall(L, 1, 0, base);
    lua_sethook(L, NULL, 0, 0);
    /* The handler, and the error message on failure: nothing else. */
    assert(lua_gettop(L) == base + (status == LUA_OK ? 0 : 1));
    rp_buf_reset(&s->tb);
    if (status == LUA_OK) {
        lua_settop(L, base - 1);
        if (!s->failed)
            return 0;
        return rp_error_set(err, RP_ESCRIPT, "%s: %s", what, s->fail);
    }
    msg = lua_tostring(L, -1);
    if (msg == NULL)
        msg = "(no message)";
    rp_buf_adds(&s->tb, msg);
    lua_settop(L, base - 1);
    one_line(line, sizeof(line), s->tb.data);
    if (s->timed_out) {
        const char *at = strstr(line, " (traceback: ");

        rc = rp_error_set(err, RP_ELIMIT,
                          "%s: stopped after the time limit of %llu ms "
                          "(time_limit_ms)%s",
                          what, (unsigned long long)s->time_limit_ms,
                          at ? at : "");
    } else if (status == LUA_ERRMEM || (s->mem_hit && status == LUA_ERRERR)) {
        rc = rp_error_set(err, RP_ELIMIT,
                          "%s: stopped at the memory limit of %zu MiB "
                          "(memory_limit_mb)",
                          what, s->mem_limit / MIB);
    } else {
        rc = rp_error_set(err, RP_ESCRIPT, "%s: %s", what, line);
    }
    return rc;
}

/* --- The sandbox ------------------------------------------------------ */

/* print(...): to stderr, since stdout may carry dry-run output. */
static int
sb_print(lua_State *L) /* [-0, +0, m] */
{
    int n = lua_gettop(L);
    luaL_Buffer b;

    luaL_buffinit(L, &b);
    luaL_addstring(&b, "script: ");
    for (int i = 1; i <= n; i++) {
        if (i > 1)
            luaL_addchar(&b, '\t');
        luaL_tolstring(L, i, NULL);
        luaL_addvalue(&b);
    }
    luaL_addchar(&b, '\n');
    luaL_pushresult(&b);
    fputs(lua_tostring(L, -1), stderr);
    return 0;
}

/* load(chunk [, name [, mode [, env]]]): text chunks only (a mode without
** "t" gets nil and a message); without 'env' the chunk sees the script's
** _ENV, never the real globals.  Upvalue 1 is the base library's load. */
static int
sb_load(lua_State *L) /* [-0, +2, m] */
{
    const char *mode = luaL_optstring(L, 3, "t");

    if (strchr(mode, 't') == NULL) {
        luaL_pushfail(L);
        lua_pushliteral(L, "binary chunks are not allowed");
        return 2;
    }
    lua_settop(L, 4);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_pushliteral(L, "t");
    if (lua_isnone(L, 4) || lua_isnil(L, 4))
        lua_rawgetp(L, LUA_REGISTRYINDEX, &key_env);
    else
        lua_pushvalue(L, 4);
    lua_call(L, 4, 2); /* under the protected entry */
    return 2;
}

/* A fresh _ENV table whose reads fall through to the allowed library. */
static void
new_env(lua_State *L) /* [-0, +1, m] */
{
    lua_createtable(L, 0, 8);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &key_envmt);
    lua_setmetatable(L, -2);
}

/* Read the file 'path' and leave its chunk on the stack with a fresh _ENV
** (or the script's own when 'own' is 1).  Returns 1, or 0 (nothing
** pushed) when the file does not exist; raises on other failures. */
static int
load_file(lua_State *L, const char *path, int own) /* [-0, +(0|1), e] */
{
    struct rp_buf text;
    struct rp_error err = {0};
    char name[PATH_MAX + 2];
    int rc;

    rp_buf_init(&text, 64 * MIB);
    rc = rp_read_file(&text, path, &err);
    if (rc == RP_ENOENT) {
        rp_buf_dispose(&text);
        return 0;
    }
    if (rc != 0) {
        rp_buf_dispose(&text);
        return luaL_error(L, "%s", err.msg);
    }
    snprintf(name, sizeof(name), "@%s", path);
    rc = luaL_loadbufferx(L, text.data ? text.data : "", text.len, name, "t");
    rp_buf_dispose(&text);
    if (rc != LUA_OK)
        return lua_error(L);
    if (own)
        lua_rawgetp(L, LUA_REGISTRYINDEX, &key_env);
    else
        new_env(L);
    lua_setupvalue(L, -2, 1); /* the chunk's _ENV */
    return 1;
}

/* require(name): cjson and cjson.safe, else name.lua ('.' meaning '/') in
** the script's folder, then in the shipped library.  Each module runs once,
** in its own _ENV; its result (true when it returns nothing) is kept. */
static int
sb_require(lua_State *L) /* [-1, +1, e] */
{
    struct rp_script *s = script_of(L);
    size_t len;
    const char *name = luaL_checklstring(L, 1, &len);
    char rel[256], path[PATH_MAX * 2];
    const char *dirs[2];

    lua_settop(L, 1);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &key_loaded); /* 2 */
    if (lua_getfield(L, 2, name) != LUA_TNIL)
        return 1;
    lua_pop(L, 1);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &key_preload); /* 3 */
    if (lua_getfield(L, 3, name) == LUA_TFUNCTION) {
        lua_pushvalue(L, 1);
        lua_call(L, 1, 1); /* under the protected entry */
    } else {
        lua_pop(L, 1);
        if (len == 0 || len >= sizeof(rel) - 4 || name[0] == '.' ||
            name[len - 1] == '.' || strstr(name, "..") != NULL)
            return luaL_error(L, "require: bad module name '%s'", name);
        for (size_t i = 0; i < len; i++) {
            char c = name[i];

            if (!(c == '_' || c == '-' || (c >= 'a' && c <= 'z') ||
                  (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.'))
                return luaL_error(L, "require: bad module name '%s'", name);
            rel[i] = c == '.' ? '/' : c;
        }
        memcpy(rel + len, ".lua", 5);
        dirs[0] = s->dir;
        dirs[1] = s->lua_dir;
        for (int d = 0;; d++) {
            if (d == 2)
                return luaL_error(L,
                                  "require: module '%s' not found "
                                  "(looked for %s in %s and %s)",
                                  name, rel, s->dir, s->lua_dir);
            snprintf(path, sizeof(path), "%s/%s", dirs[d], rel);
            if (load_file(L, path, 0))
                break;
        }
        lua_pushvalue(L, 1);
        lua_call(L, 1, 1); /* under the protected entry */
    }
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushboolean(L, 1);
    }
    lua_pushvalue(L, -1);
    lua_setfield(L, 2, name);
    return 1;
}

/* rawjson(text): marks a string as JSON text to send as it is (checked). */
static int
sb_rawjson(lua_State *L) /* [-1, +1, m] */
{
    luaL_checktype(L, 1, LUA_TSTRING);
    lua_createtable(L, 1, 0);
    lua_pushvalue(L, 1);
    lua_rawseti(L, -2, 1);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &key_rawjson);
    lua_setmetatable(L, -2);
    return 1;
}

/* jsv.compact(text): rp_jsv_compact; the compact text, or nil and the
** reason. */
static int
jsv_compact(lua_State *L) /* [-1, +(1|2), m] */
{
    struct rp_script *s = script_of(L);
    struct rp_error err = {0};
    size_t n;
    const char *text = luaL_checklstring(L, 1, &n);

    rp_buf_reset(&s->text);
    if (rp_jsv_compact(&s->text, text, n, &err) != 0) {
        luaL_pushfail(L);
        lua_pushstring(L, err.msg);
        return 2;
    }
    lua_pushlstring(L, s->text.data ? s->text.data : "", s->text.len);
    return 1;
}

/* jsv.unformat(text): rp_jsv_unformat. */
static int
jsv_unformat(lua_State *L) /* [-1, +1, m] */
{
    struct rp_script *s = script_of(L);
    size_t n;
    const char *text = luaL_checklstring(L, 1, &n);

    rp_buf_reset(&s->text);
    if (rp_jsv_unformat(&s->text, text, n) != 0)
        return luaL_error(L, "jsv.unformat: body too large");
    lua_pushlstring(L, s->text.data ? s->text.data : "", s->text.len);
    return 1;
}

/* Opener of the built-in "jsv" module (src/jsv.h). */
static int
open_jsv(lua_State *L) /* [-0, +1, m] */
{
    static const luaL_Reg fns[] = {
        {"compact", jsv_compact}, {"unformat", jsv_unformat}, {NULL, NULL}};

    luaL_newlib(L, fns);
    return 1;
}

/* Copy the functions of the table at the top into a new table, leaving
** out the names in 'skip' (NULL-terminated). */
static void
copy_lib(lua_State *L, const char *const *skip) /* [-1, +1, m] */
{
    lua_newtable(L);
    lua_pushnil(L);
    while (lua_next(L, -3) != 0) {
        int keep = lua_type(L, -2) == LUA_TSTRING;

        for (int i = 0; keep && skip != NULL && skip[i] != NULL; i++)
            if (strcmp(lua_tostring(L, -2), skip[i]) == 0)
                keep = 0;
        if (keep) {
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_rawset(L, -4);
        } else {
            lua_pop(L, 1);
        }
    }
    lua_remove(L, -2);
}

/* Build the registry entries and the allowed library. */
static void
build_sandbox(lua_State *L, struct rp_script *s) /* [-0, +0, m] */
{
    static const char *const base_skip[] = {
        "dofile", "loadfile", "load", "print", "require", "_G", NULL};
    static const char *const string_skip[] = {"dump", NULL};
    static const char *const os_keep[] = {"time", "date", "clock", "getenv",
                                          NULL};
    static const struct {
        const char *name;
        lua_CFunction open;
    } libs[] = {{"string", luaopen_string},
                {"table", luaopen_table},
                {"math", luaopen_math},
                {"utf8", luaopen_utf8}};

    luaL_checkstack(L, 10, NULL);
    /* The allowed library, reachable only through _ENV's __index. */
    luaL_requiref(L, "_G", luaopen_base, 0);
    copy_lib(L, base_skip); /* lib */
    lua_getglobal(L, "load");
    lua_pushcclosure(L, sb_load, 1);
    lua_setfield(L, -2, "load");
    lua_pushcfunction(L, sb_print);
    lua_setfield(L, -2, "print");
    lua_pushcfunction(L, sb_require);
    lua_setfield(L, -2, "require");
    lua_pushcfunction(L, sb_rawjson);
    lua_setfield(L, -2, "rawjson");
    for (size_t i = 0; i < sizeof(libs) / sizeof(libs[0]); i++) {
        luaL_requiref(L, libs[i].name, libs[i].open, 0);
        if (libs[i].name[0] == 's') {
            /* Strings index the real string table ("x"):rep(2): no dump
            ** there either. */
            lua_pushnil(L);
            lua_setfield(L, -2, "dump");
        }
        copy_lib(L, libs[i].name[0] == 's' ? string_skip : NULL);
        lua_setfield(L, -2, libs[i].name);
    }
    luaL_requiref(L, "os", luaopen_os, 0);
    lua_createtable(L, 0, 4);
    for (int i = 0; os_keep[i] != NULL; i++) {
        lua_getfield(L, -2, os_keep[i]);
        lua_setfield(L, -2, os_keep[i]);
    }
    lua_setfield(L, -3, "os");
    lua_pop(L, 1); /* the real os */

    /* Metatable of every _ENV: reads fall through to the library; the
    ** metatable itself is hidden, so the library cannot be changed. */
    lua_createtable(L, 0, 2);
    lua_insert(L, -2);
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &key_envmt);

    new_env(L); /* the script's _ENV, with _G naming itself */
    lua_pushvalue(L, -1);
    lua_setfield(L, -2, "_G");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &key_env);

    lua_newtable(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &key_loaded);
    lua_createtable(L, 0, 2);
    lua_pushcfunction(L, luaopen_cjson);
    lua_setfield(L, -2, "cjson");
    lua_pushcfunction(L, luaopen_cjson_safe);
    lua_setfield(L, -2, "cjson.safe");
    lua_pushcfunction(L, open_jsv);
    lua_setfield(L, -2, "jsv");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &key_preload);

    /* cjson's openers set a process-wide value (the locale's decimal
    ** point, read by every encode and decode): they run now, while the
    ** state is made, never on a worker's thread while others convert. */
    lua_rawgetp(L, LUA_REGISTRYINDEX, &key_loaded);
    lua_pushcfunction(L, luaopen_cjson);
    lua_call(L, 0, 1); /* under the protected entry */
    lua_setfield(L, -2, "cjson");
    lua_pushcfunction(L, luaopen_cjson_safe);
    lua_call(L, 0, 1); /* under the protected entry */
    lua_setfield(L, -2, "cjson.safe");
    lua_pop(L, 1);

    /* The bridge's own cjson, so a script's cjson settings do not change
    ** how events are encoded. */
    lua_pushcfunction(L, luaopen_cjson);
    lua_call(L, 0, 1); /* under the protected entry */
    lua_getfield(L, -1, "encode");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &key_encode);
    lua_pop(L, 1);

    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "rawjson");
    lua_setfield(L, -2, "__name");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &key_rawjson);

    /* Short strings are interned and never move: keeping these alive lets
    ** add_event() tell a field name by its address. */
    lua_createtable(L, (int)NFIELDS, 0);
    for (size_t i = 0; i < NFIELDS; i++) {
        s->field[i] = lua_pushstring(L, event_fields[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_rawsetp(L, LUA_REGISTRYINDEX, &key_fields);
}

/* Entry: build the sandbox, load and run the script, find convert. */
static int
load_entry(lua_State *L) /* [-1, +0, e] */
{
    struct rp_script *s = lua_touserdata(L, 1);

    build_sandbox(L, s);
    if (!load_file(L, s->path, 1))
        return luaL_error(L, "cannot open %s", s->path);
    lua_call(L, 0, 0); /* under the protected entry */
    lua_rawgetp(L, LUA_REGISTRYINDEX, &key_env);
    if (lua_getfield(L, -1, "convert") != LUA_TFUNCTION)
        return refuse(s,
                      "the script defines no global function 'convert' "
                      "(found a %s)",
                      luaL_typename(L, -1));
    lua_pop(L, 1);
    luaL_checkstack(L, UV_ENV + 2, NULL);
    for (int i = 0; i < UV_ENV - 1; i++)
        lua_pushstring(L, convert_names[i]);
    lua_pushvalue(L, -UV_ENV); /* the _ENV */
    lua_pushcclosure(L, convert_entry, UV_ENV);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &key_convert);
    return 0;
}

/* Entry: copy the script's config table into s->cfg. */
static int
config_entry(lua_State *L) /* [-1, +0, e] */
{
    struct rp_script *s = lua_touserdata(L, 1);
    struct rp_error err = {0};
    char num[32];

    lua_rawgetp(L, LUA_REGISTRYINDEX, &key_env);
    lua_getfield(L, -1, "config");
    if (lua_isnil(L, -1))
        return 0;
    if (!lua_istable(L, -1))
        return refuse(s, "config is a %s, not a table", luaL_typename(L, -1));
    lua_pushnil(L);
    while (lua_next(L, -2) != 0) {
        const char *key, *value = NULL;
        lua_Integer n;
        int isint;

        if (lua_type(L, -2) != LUA_TSTRING)
            return refuse(s, "config has a key that is a %s, not a name",
                          luaL_typename(L, -2));
        key = lua_tostring(L, -2);
        if (!rp_config_known(key))
            return refuse(s, "config.%s is not a setting", key);
        switch (lua_type(L, -1)) {
        case LUA_TSTRING:
            value = lua_tostring(L, -1);
            break;
        case LUA_TBOOLEAN:
            value = lua_toboolean(L, -1) ? "true" : "false";
            break;
        case LUA_TNUMBER:
            n = lua_tointegerx(L, -1, &isint);
            if (!isint)
                return refuse(s, "config.%s must be a whole number", key);
            snprintf(num, sizeof(num), "%lld", (long long)n);
            value = num;
            break;
        default:
            return refuse(s,
                          "config.%s is a %s, not a string, number or "
                          "boolean",
                          key, luaL_typename(L, -1));
        }
        if (rp_config_set(s->cfg, key, value, "config table", &err) != 0)
            return refuse(s, "%s", err.msg);
        lua_pop(L, 1);
    }
    return 0;
}

/* --- Records in, events out ------------------------------------------- */

/* Push the field name held by upvalue 'uv' of convert_entry. */
#define push_name(L, uv) lua_pushvalue(L, lua_upvalueindex(uv))

/* Push the record table given to convert().  Runs in convert_entry, whose
** upvalues hold the field names.  The tables are new and have no
** metatable, so raw sets do what lua_setfield would, without looking the
** names up again. */
static void
push_record(lua_State *L, struct rp_script *s) /* [-0, +1, m] */
{
    const struct rp_record *rec = s->rec;
    int decoded;

    luaL_checkstack(L, 6, NULL);
    lua_createtable(L, 0, 6);
    push_name(L, UV_KEY);
    lua_pushlstring(L, rec->key, rec->key_len);
    lua_rawset(L, -3);
    push_name(L, UV_STORE_VERSION);
    lua_pushinteger(L, (lua_Integer)rec->store_version);
    lua_rawset(L, -3);
    push_name(L, UV_STREAM_VERSION);
    lua_pushinteger(L, (lua_Integer)rec->stream_version);
    lua_rawset(L, -3);
    push_name(L, UV_DATA);
    lua_pushlstring(L, (const char *)rec->data, rec->data_len);
    lua_rawset(L, -3);
    decoded = rp_msgset_decode(&s->ms, rec->data, rec->data_len, NULL) == 0;
    if (!decoded)
        return;
    push_name(L, UV_ATTRIBUTES);
    lua_createtable(L, 0, (int)s->ms.attr_count);
    for (size_t i = 0; i < s->ms.attr_count; i++) {
        const struct rp_attr *a = &s->ms.attrs[i];

        lua_pushlstring(L, a->key, a->key_len);
        lua_pushlstring(L, a->value, a->value_len);
        lua_rawset(L, -3);
    }
    lua_rawset(L, -3);
    push_name(L, UV_MESSAGES);
    lua_createtable(L, (int)s->ms.msg_count, 0);
    for (size_t i = 0; i < s->ms.msg_count; i++) {
        const struct rp_msg *m = &s->ms.msgs[i];

        lua_createtable(L, 0, 2);
        push_name(L, UV_CONTRACT);
        lua_pushlstring(L, m->contract, m->contract_len);
        lua_rawset(L, -3);
        push_name(L, UV_BODY);
        lua_pushlstring(L, (const char *)m->body, m->body_len);
        lua_rawset(L, -3);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_rawset(L, -3);
}

/* 1 when the value at 'idx' is a rawjson() marker. */
static int
is_rawjson(lua_State *L, int idx) /* [-0, +0, -] */
{
    int yes;

    if (!lua_getmetatable(L, idx))
        return 0;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &key_rawjson);
    yes = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return yes;
}

/* How cjson 2.1.0 writes each byte inside a string: NULL as itself. */
static const char *const cjson_escape[128] = {
    "\\u0000",      "\\u0001",     "\\u0002",       "\\u0003",
    "\\u0004",      "\\u0005",     "\\u0006",       "\\u0007",
    "\\b",          "\\t",         "\\n",           "\\u000b",
    "\\f",          "\\r",         "\\u000e",       "\\u000f",
    "\\u0010",      "\\u0011",     "\\u0012",       "\\u0013",
    "\\u0014",      "\\u0015",     "\\u0016",       "\\u0017",
    "\\u0018",      "\\u0019",     "\\u001a",       "\\u001b",
    "\\u001c",      "\\u001d",     "\\u001e",       "\\u001f",
    ['"'] = "\\\"", ['/'] = "\\/", ['\\'] = "\\\\", [127] = "\\u007f"};

/* Deepest nesting quick_json() follows before it leaves the table to
** cjson (whose own limit, and message, then apply). */
#define QUICK_DEPTH 32
/* Integers quick_json() writes: cjson prints numbers with "%.14g", which
** gives every integer of at most 14 digits as it is. */
#define QUICK_INT_MAX 99999999999999

/* Append one byte: in place when there is room (the common case). */
static void
quick_byte(struct rp_buf *b, char c)
{
    if (b->len + 1 < b->cap) {
        b->data[b->len++] = c;
        b->data[b->len] = '\0';
    } else {
        rp_buf_addc(b, c);
    }
}

/* Append the Lua string at 'idx' as cjson.encode writes it: the worst case
** (six bytes per byte) is reserved, then bytes go through the escape
** table.  Returns 1, or 0 when the buffer refuses the room. */
static int
quick_string(lua_State *L, int idx, struct rp_buf *b) /* [-0, +0, -] */
{
    size_t n;
    const unsigned char *p = (const unsigned char *)lua_tolstring(L, idx, &n);
    char *d, *o;

    if (n > (SIZE_MAX / 2 - 2) / 6 ||
        (d = rp_buf_reserve(b, 6 * n + 2)) == NULL)
        return 0;
    o = d;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        const char *e = p[i] < 128 ? cjson_escape[p[i]] : NULL;

        if (e == NULL) {
            *o++ = (char)p[i];
        } else {
            size_t k = e[1] == 'u' ? 6 : 2;

            memcpy(o, e, k);
            o += k;
        }
    }
    *o++ = '"';
    b->len += (size_t)(o - d);
    b->data[b->len] = '\0';
    return 1;
}

/* Append the number at 'idx' as cjson writes it: "%.14g" of its value as
** a double.  Integral values of at most 14 digits (integers, or floats as
** cjson.decode makes them) are written directly, others by snprintf.
** Returns 0 for NaN and infinities (cjson refuses them, in its words) and
** for a text other than digits, signs, '.' and 'e' (a decimal comma). */
static int
quick_number(lua_State *L, int idx, struct rp_buf *b) /* [-0, +0, -] */
{
    lua_Number d = lua_tonumber(L, idx);
    lua_Integer v = 0;
    int direct;
    char text[48];
    int n;

    if (lua_isinteger(L, idx)) {
        v = lua_tointeger(L, idx);
        direct = v <= QUICK_INT_MAX && v >= -QUICK_INT_MAX;
    } else {
        direct = d >= -(lua_Number)QUICK_INT_MAX &&
                 d <= (lua_Number)QUICK_INT_MAX &&
                 d == (lua_Number)(lua_Integer)d && !(d == 0 && signbit(d));
        if (direct)
            v = (lua_Integer)d;
    }
    if (direct) {
        if (v < 0)
            quick_byte(b, '-');
        rp_buf_add_u64(b, (uint64_t)(v < 0 ? -v : v));
        return 1;
    }
    if (isnan(d) || isinf(d))
        return 0;
    n = snprintf(text, sizeof(text), "%.14g", (double)d);
    if (n <= 0 || (size_t)n >= sizeof(text) ||
        strspn(text, "0123456789+-.e") != (size_t)n)
        return 0;
    rp_buf_add(b, text, (size_t)n);
    return 1;
}

/* Append the table at 'idx' to 'b' exactly as the bridge's cjson.encode
** would write it, for the common shapes only: objects (string keys; an
** empty table is "{}") whose values are strings, booleans, finite numbers
** or such objects.  Returns 1, or 0 for anything else (arrays, NaN,
** cjson.null, nesting past QUICK_DEPTH...), which cjson then encodes with
** its own rules and messages; 'b' may then hold a partial text.  Keys come
** in lua_next order, as cjson takes them. */
static int
quick_json(lua_State *L, int idx, struct rp_buf *b, int depth) /* [-0, +0, m] */
{
    int first = 1, ok = 1;

    if (depth > QUICK_DEPTH)
        return 0;
    luaL_checkstack(L, 3, NULL);
    quick_byte(b, '{');
    lua_pushnil(L);
    while (ok && lua_next(L, idx) != 0) {
        int top = lua_gettop(L);

        if (lua_type(L, top - 1) != LUA_TSTRING) {
            lua_pop(L, 1);
            ok = 0;
            break;
        }
        if (!first)
            quick_byte(b, ',');
        first = 0;
        if (!quick_string(L, top - 1, b)) {
            lua_pop(L, 1);
            ok = 0;
            break;
        }
        quick_byte(b, ':');
        switch (lua_type(L, top)) {
        case LUA_TSTRING:
            ok = quick_string(L, top, b);
            break;
        case LUA_TBOOLEAN:
            rp_buf_adds(b, lua_toboolean(L, top) ? "true" : "false");
            break;
        case LUA_TNUMBER:
            ok = quick_number(L, top, b);
            break;
        case LUA_TTABLE:
            ok = quick_json(L, top, b, depth + 1);
            break;
        default:
            ok = 0;
        }
        lua_pop(L, 1);
    }
    if (!ok) {
        lua_pop(L, 1); /* the key lua_next left */
        return 0;
    }
    quick_byte(b, '}');
    return 1;
}

/* Turn the table at 'idx' into JSON text: the text of a rawjson() marker
** (checked), else what cjson.encode gives, written by quick_json() into
** 'scratch' when the shape allows, else by cjson and left on the stack.
** Returns the text (valid while that stack slot and 'scratch' are), or
** NULL after refuse(). */
static const char *
table_json(lua_State *L, struct rp_script *s, int idx, uint32_t index,
           const char *field, struct rp_buf *scratch,
           size_t *len) /* [-0, +(0|1), m] */
{
    const char *text;
    struct rp_error err = {0};
    size_t bad;
    int status;

    if (is_rawjson(L, idx)) {
        lua_rawgeti(L, idx, 1);
        text = lua_tolstring(L, -1, len);
        if (text == NULL) {
            lua_pop(L, 1);
            refuse(s, "event %u: %s: rawjson() holds no string", index, field);
            return NULL;
        }
        if (rp_json_validate(text, *len, &err) != 0) {
            lua_pop(L, 1);
            refuse(s, "event %u: %s: rawjson() text is not JSON: %s", index,
                   field, err.msg);
            return NULL;
        }
        return text;
    }
    rp_buf_reset(scratch);
    if (quick_json(L, idx, scratch, 1)) {
        if (!rp_utf8_valid(scratch->data, scratch->len, NULL)) {
            refuse(s, "event %u: %s holds a string that is not valid UTF-8",
                   index, field);
            return NULL;
        }
        *len = scratch->len;
        return scratch->data;
    }
    lua_rawgetp(L, LUA_REGISTRYINDEX, &key_encode);
    lua_pushvalue(L, idx);
    status = lua_pcall(L, 1, 1, 0);
    if (status == LUA_ERRMEM)
        lua_error(L);
    if (status != LUA_OK) {
        refuse(s, "event %u: %s cannot be encoded as JSON: %s", index, field,
               lua_tostring(L, -1));
        lua_pop(L, 1);
        return NULL;
    }
    text = lua_tolstring(L, -1, len);
    if (!rp_utf8_valid(text, *len, &bad)) {
        lua_pop(L, 1);
        refuse(s, "event %u: %s holds a string that is not valid UTF-8", index,
               field);
        return NULL;
    }
    return text;
}

/* Append the replicatedFrom member (without braces) to s->meta: the part
** fixed by the source (made by rp_script_apply_config), the part fixed by
** the record (made at its first event), then the index. */
static void
add_source(struct rp_script *s, uint32_t index)
{
    const struct rp_record *rec = s->rec;
    struct rp_buf *m = &s->meta;

    if (!s->rec_meta_ok) {
        struct rp_buf *r = &s->rec_meta;

        rp_buf_reset(r);
        rp_buf_add_u64(r, rec->store_version);
        rp_buf_adds(r, ",\"streamVersion\":");
        rp_buf_add_u64(r, rec->stream_version);
        rp_buf_adds(r, ",\"key\":");
        rp_json_add_string(r, rec->key, rec->key_len);
        rp_buf_adds(r, ",\"index\":");
        s->rec_meta_ok = 1;
    }
    rp_buf_add(m, s->src_meta.data, s->src_meta.len);
    rp_buf_add(m, s->rec_meta.data, s->rec_meta.len);
    rp_buf_add_u64(m, index);
    rp_buf_addc(m, '}');
}

/* The event field at stack index 'slot' (see add_event) for event_fields[i]:
** the raw value found there, else, when the event has a metatable, what
** lua_getfield finds (its __index), left in the slot.  Returns its type. */
static int
event_field(lua_State *L, int ev, int slot, size_t i,
            int has_mt) /* [-0, +0, e] */
{
    if (has_mt && lua_isnil(L, slot)) {
        lua_getfield(L, ev, event_fields[i]);
        lua_replace(L, slot);
    }
    return lua_type(L, slot);
}

/* The string field 'i' of the event at 'ev', found in 'slot'.  Returns it,
** or NULL after refuse(). */
static const char *
name_field(lua_State *L, struct rp_script *s, int ev, int slot, size_t i,
           int has_mt, uint32_t index, size_t *len) /* [-0, +0, e] */
{
    const char *name = event_fields[i], *v;

    if (event_field(L, ev, slot, i, has_mt) != LUA_TSTRING) {
        refuse(s, "event %u: %s is %s, not a non-empty string", index, name,
               lua_isnil(L, slot) ? "missing" : luaL_typename(L, slot));
        return NULL;
    }
    v = lua_tolstring(L, slot, len);
    if (*len == 0) {
        refuse(s, "event %u: %s is an empty string", index, name);
        return NULL;
    }
    if (!rp_utf8_valid(v, *len, NULL)) {
        refuse(s, "event %u: %s is not valid UTF-8", index, name);
        return NULL;
    }
    return v;
}

/* Check the event table at 'ev' and append it to s->out.  Returns 1, or 0
** after refuse().  One lua_next pass checks the keys and leaves each
** field's value in a stack slot (event_fields order); the values stay there,
** so their strings live, until the event is copied. */
static int
add_event(lua_State *L, struct rp_script *s, int ev,
          uint32_t index) /* [-0, +0, e] */
{
    enum { F_STREAM, F_TYPE, F_DATA, F_META, F_ID };
    struct rp_event e;
    const char *text;
    size_t len, raw_len;
    int top = lua_gettop(L), slot = top + 1, mt, has_mt;

    if (!lua_istable(L, ev))
        return refuse(s, "event %u is a %s, not a table", index,
                      luaL_typename(L, ev));
    luaL_checkstack(L, (int)NFIELDS + 12, NULL);
    for (size_t i = 0; i < NFIELDS; i++)
        lua_pushnil(L);
    lua_pushnil(L);
    while (lua_next(L, ev) != 0) {
        size_t f = NFIELDS;

        if (lua_type(L, -2) == LUA_TSTRING) {
            const char *k = lua_tostring(L, -2);

            for (f = 0; f < NFIELDS && k != s->field[f]; f++)
                ;
        }
        if (f == NFIELDS) {
            if (lua_type(L, -2) == LUA_TSTRING)
                return refuse(s,
                              "event %u has an unknown field '%s' (fields: "
                              "stream, type, data, metadata, id)",
                              index, lua_tostring(L, -2));
            return refuse(s, "event %u has a %s key; fields are named", index,
                          luaL_typename(L, -2));
        }
        lua_replace(L, slot + (int)f);
    }
    has_mt = lua_getmetatable(L, ev);
    if (has_mt)
        lua_pop(L, 1);
    memset(&e, 0, sizeof(e));
    e.store_version = s->rec->store_version;
    e.index = index;
    if ((e.stream = name_field(L, s, ev, slot + F_STREAM, F_STREAM, has_mt,
                               index, &e.stream_len)) == NULL ||
        (e.type = name_field(L, s, ev, slot + F_TYPE, F_TYPE, has_mt, index,
                             &e.type_len)) == NULL)
        return 0;

    /* data */
    rp_buf_reset(&s->data);
    switch (event_field(L, ev, slot + F_DATA, F_DATA, has_mt)) {
    case LUA_TSTRING:
        text = lua_tolstring(L, slot + F_DATA, &raw_len);
        if (!rp_utf8_valid(text, raw_len, NULL))
            return refuse(s,
                          "event %u: data is a string that is not valid "
                          "UTF-8 (send binary data as base64 text)",
                          index);
        rp_json_add_string(&s->data, text, raw_len);
        e.data = s->data.data;
        e.data_len = s->data.len;
        break;
    case LUA_TTABLE:
        text =
            table_json(L, s, slot + F_DATA, index, "data", &s->data, &raw_len);
        if (text == NULL)
            return 0;
        e.data = text;
        e.data_len = raw_len;
        break;
    case LUA_TNIL:
        return refuse(s, "event %u: data is missing (a string or a table)",
                      index);
    default:
        return refuse(s, "event %u: data is a %s, not a string or a table",
                      index, luaL_typename(L, slot + F_DATA));
    }

    /* metadata */
    rp_buf_reset(&s->meta);
    mt = event_field(L, ev, slot + F_META, F_META, has_mt);
    if (mt == LUA_TSTRING) {
        text = lua_tolstring(L, slot + F_META, &len);
        if (!rp_utf8_valid(text, len, NULL))
            return refuse(s,
                          "event %u: metadata is a string that is not "
                          "valid UTF-8",
                          index);
        rp_json_add_string(&s->meta, text, len);
    } else if (mt == LUA_TTABLE) {
        int at = slot + F_META;
        const char *p;

        if (s->source_metadata && !is_rawjson(L, at)) {
            if (lua_getfield(L, at, "replicatedFrom") != LUA_TNIL)
                return refuse(s,
                              "event %u: metadata has its own replicatedFrom "
                              "(set config.source_metadata = false to send "
                              "it)",
                              index);
            lua_pop(L, 1);
        }
        text = table_json(L, s, at, index, "metadata", &s->text, &len);
        if (text == NULL)
            return 0;
        if (!s->source_metadata) {
            rp_buf_add(&s->meta, text, len);
        } else {
            p = text;
            while (p < text + len &&
                   (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
                p++;
            if (p == text + len || *p != '{')
                return refuse(s,
                              "event %u: metadata must be an object (a table "
                              "with named fields) to carry replicatedFrom",
                              index);
            while (len > 0 && text[len - 1] != '}')
                len--;
            rp_buf_add(&s->meta, text, len - 1);
            p++;
            while (p < text + len - 1 &&
                   (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
                p++;
            if (*p != '}')
                rp_buf_addc(&s->meta, ',');
            add_source(s, index);
            rp_buf_addc(&s->meta, '}');
        }
    } else if (mt == LUA_TNIL) {
        if (s->source_metadata) {
            rp_buf_addc(&s->meta, '{');
            add_source(s, index);
            rp_buf_addc(&s->meta, '}');
        }
    } else {
        return refuse(s, "event %u: metadata is a %s, not a table or a string",
                      index, luaL_typename(L, slot + F_META));
    }
    if (s->meta.len > 0) {
        e.metadata = s->meta.data;
        e.metadata_len = s->meta.len;
    }

    /* id */
    switch (event_field(L, ev, slot + F_ID, F_ID, has_mt)) {
    case LUA_TNIL:
        rp_idgen_make(&s->idgen, s->rec->store_version, index, e.id);
        break;
    case LUA_TSTRING:
        text = lua_tolstring(L, slot + F_ID, &len);
        if (rp_event_parse_id(e.id, text, len) != 0)
            return refuse(s,
                          "event %u: id '%.40s' is not a UUID "
                          "(8-4-4-4-12 hex digits, not all zero)",
                          index, text);
        break;
    default:
        return refuse(s, "event %u: id is a %s, not a UUID string", index,
                      luaL_typename(L, slot + F_ID));
    }

    /* The API counts the data as stored (a string's own bytes) plus the
    ** metadata. */
    if (raw_len > s->max_event_bytes ||
        e.metadata_len > s->max_event_bytes - raw_len)
        return refuse(s,
                      "event %u is too large: %zu bytes of data and %zu of "
                      "metadata, the limit is %llu (max_event_bytes), "
                      "stream '%.*s'",
                      index, raw_len, e.metadata_len,
                      (unsigned long long)s->max_event_bytes,
                      (int)(e.stream_len < 200 ? e.stream_len : 200), e.stream);
    rp_events_add(s->out, &e);
    lua_settop(L, top);
    return 1;
}

/* Entry: call convert(record) and collect its events into s->out.  A C
** closure made once by load_entry (upvalues: UV_*). */
static int
convert_entry(lua_State *L) /* [-1, +0, e] */
{
    struct rp_script *s = lua_touserdata(L, 1);
    size_t n;
    int res;

    luaL_checkstack(L, 8, NULL);
    push_name(L, UV_CONVERT);
    if (lua_gettable(L, lua_upvalueindex(UV_ENV)) != LUA_TFUNCTION)
        return refuse(s, "convert is no longer a function (a %s)",
                      luaL_typename(L, -1));
    push_record(L, s);
    lua_call(L, 1, 1); /* under the protected entry */
    res = lua_gettop(L);
    switch (lua_type(L, res)) {
    case LUA_TNIL:
        return 0;
    case LUA_TTABLE:
        break;
    default:
        return refuse(s,
                      "convert() returned a %s, not a list of events (or "
                      "nil)",
                      luaL_typename(L, res));
    }
    n = lua_rawlen(L, res);
    if (n == 0) {
        lua_pushnil(L);
        if (lua_next(L, res) != 0)
            return refuse(s, "convert() returned a table that is not a "
                             "list of events (return { event } for one "
                             "event)");
        return 0;
    }
    if (n > UINT32_MAX)
        return refuse(s, "convert() returned too many events");
    for (size_t i = 1; i <= n; i++) {
        lua_rawgeti(L, res, (lua_Integer)i);
        if (!add_event(L, s, lua_gettop(L), (uint32_t)(i - 1)))
            return 0;
        lua_pop(L, 1);
    }
    return 0;
}

/* --- Public ------------------------------------------------------------ */

void
rp_script_lua_dir(char *out, size_t size)
{
    const char *env = getenv("REPLICATOR_LUA_PATH");
    char exe[PATH_MAX], try[PATH_MAX + 16];
    /* In the source tree (bin/, build/<variant>/bin/), then an installed
    ** tree wherever it was moved (<prefix>/bin -> <prefix>/share). */
    static const char *const rel[] = {"/../lua", "/../../../lua",
                                      "/../share/replicator/lua"};
    struct stat st;
    ssize_t n;

    if (env != NULL && env[0] != '\0') {
        snprintf(out, size, "%s", env);
        return;
    }
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        char *slash;

        exe[n] = '\0';
        slash = strrchr(exe, '/');
        if (slash != NULL) {
            *slash = '\0';
            for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
                snprintf(try, sizeof(try), "%s%s", exe, rel[i]);
                if (stat(try, &st) == 0 && S_ISDIR(st.st_mode)) {
                    snprintf(out, size, "%s", try);
                    return;
                }
            }
        }
    }
    snprintf(out, size, "%s", RP_LUA_DIR);
}

void
rp_script_apply_config(struct rp_script *s, const struct rp_config *cfg)
{
    const char *id = cfg->source_id ? cfg->source_id : "";

    s->time_limit_ms = cfg->time_limit_ms;
    s->mem_limit = (size_t)cfg->memory_limit_mb * MIB;
    s->source_metadata = cfg->source_metadata;
    s->max_event_bytes = cfg->max_event_bytes;
    free(s->source_id);
    s->source_id = rp_xstrdup(id);
    rp_idgen_init(&s->idgen, id, strlen(id));
    rp_buf_reset(&s->src_meta);
    rp_buf_adds(&s->src_meta, "\"replicatedFrom\":{\"source\":");
    rp_json_add_string(&s->src_meta, id, strlen(id));
    rp_buf_adds(&s->src_meta, ",\"storeVersion\":");
}

int
rp_script_new(struct rp_script **out, const char *path,
              const struct rp_config *cfg, struct rp_error *err)
{
    struct rp_script *s = rp_xcalloc(1, sizeof(*s));
    const char *slash = strrchr(path, '/');
    char what[PATH_MAX + 16];
    FILE *f;
    int rc;

    *out = NULL;
    s->path = rp_xstrdup(path);
    if (slash == NULL)
        s->dir = rp_xstrdup(".");
    else if (slash == path)
        s->dir = rp_xstrdup("/");
    else
        s->dir = rp_xstrndup(path, (size_t)(slash - path));
    rp_script_lua_dir(s->lua_dir, sizeof(s->lua_dir));
    rp_msgset_init(&s->ms);
    rp_buf_init(&s->data, 0);
    rp_buf_init(&s->meta, 0);
    rp_buf_init(&s->tb, 0);
    rp_buf_init(&s->text, 0);
    rp_buf_init(&s->src_meta, 0);
    rp_buf_init(&s->rec_meta, 0);
    rp_script_apply_config(s, cfg);
    f = fopen(path, "r");
    if (f == NULL) {
        rc = rp_error_set(err, RP_ENOENT, "cannot open script %s", path);
        goto fail;
    }
    fclose(f);
    s->L = lua_newstate(budget_alloc, s);
    if (s->L == NULL) {
        rc = rp_error_set(err, RP_ELIMIT, "cannot create a Lua state");
        goto fail;
    }
    lua_gc(s->L, LUA_GCGEN, 0, 0);
    snprintf(what, sizeof(what), "script %s", path);
    rc = docall(s, load_entry, NULL, what, err);
    if (rc != 0)
        goto fail;
    *out = s;
    return 0;
fail:
    rp_script_free(s);
    return rc;
}

int
rp_script_read_config(struct rp_script *s, struct rp_config *cfg,
                      struct rp_error *err)
{
    char what[PATH_MAX + 32];
    int rc;

    snprintf(what, sizeof(what), "%s", s->path);
    s->cfg = cfg;
    rc = docall(s, config_entry, NULL, what, err);
    s->cfg = NULL;
    if (rc == RP_ESCRIPT && err != NULL)
        err->code = rc = RP_EINVAL;
    return rc;
}

int
rp_script_convert(struct rp_script *s, const struct rp_record *rec,
                  struct rp_events *out, struct rp_error *err)
{
    size_t before = rp_events_count(out);
    char what[MAX_KEY_SHOWN + 64];
    int rc;

    s->rec = rec;
    s->out = out;
    s->rec_meta_ok = 0;
    rc = docall(s, NULL, &key_convert, "convert()", err);
    s->rec = NULL;
    s->out = NULL;
    if (rc == 0)
        return 0;
    rp_events_truncate(out, before);
    snprintf(what, sizeof(what), "store version %llu, key '%.*s'%s",
             (unsigned long long)rec->store_version,
             (int)(rec->key_len > MAX_KEY_SHOWN ? MAX_KEY_SHOWN : rec->key_len),
             rec->key, rec->key_len > MAX_KEY_SHOWN ? "..." : "");
    return rp_error_prefix(err, "%s", what);
}

const char *
rp_script_traceback(const struct rp_script *s)
{
    return s->tb.data ? s->tb.data : "";
}

void
rp_script_free(struct rp_script *s)
{
    if (s == NULL)
        return;
    if (s->L != NULL)
        lua_close(s->L);
    rp_msgset_dispose(&s->ms);
    rp_buf_dispose(&s->data);
    rp_buf_dispose(&s->meta);
    rp_buf_dispose(&s->tb);
    rp_buf_dispose(&s->text);
    rp_buf_dispose(&s->src_meta);
    rp_buf_dispose(&s->rec_meta);
    free(s->source_id);
    free(s->path);
    free(s->dir);
    free(s);
}
