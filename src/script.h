/* The Lua bridge: loads the user's script in a sandbox with time and memory
** limits, hands it each record, and checks and converts what it returns
** into events (DESIGN.md, "The script"). */
#ifndef RP_SCRIPT_H
#define RP_SCRIPT_H

#include "config.h"
#include "event.h"
#include "store.h"
#include "util.h"

/* One loaded script and its Lua state; opaque.  A state is used by one
** thread at a time: several workers each have their own rp_script. */
struct rp_script;

/* Load the script at 'path' (text only) and run its main chunk in a fresh
** sandbox, under cfg's time and memory limits.  The script must define a
** global function `convert`.  Also takes cfg's source_id, source_metadata
** and max_event_bytes (see rp_script_apply_config).  Returns 0 with *out
** set, or RP_ENOENT/RP_EIO (cannot read the file) or RP_ESCRIPT (syntax
** error with file:line, error while running, no convert function), *out
** then NULL. */
int rp_script_new(struct rp_script **out, const char *path,
                  const struct rp_config *cfg, struct rp_error *err);

/* Read the script's global `config` table (if any) into 'cfg': each key is
** a setting name (rp_config_set), each value a string, number or boolean.
** Returns 0, or RP_EINVAL naming the script and the key. */
int rp_script_read_config(struct rp_script *s, struct rp_config *cfg,
                          struct rp_error *err);

/* Take the limits, the source id and source_metadata from 'cfg' for the
** next calls (after flags overrode the config table).  Cannot fail. */
void rp_script_apply_config(struct rp_script *s, const struct rp_config *cfg);

/* Call convert(record) for 'rec' and append the events it returns to
** 'out'.  On any failure nothing is appended (events already in 'out' stay)
** and RP_ESCRIPT is returned with a message that names the record (store
** version, key), the event index when one is at fault, and the script's
** error with its line; RP_ELIMIT when the time or memory limit stopped the
** call. */
int rp_script_convert(struct rp_script *s, const struct rp_record *rec,
                      struct rp_events *out, struct rp_error *err);

/* The full Lua traceback of the last failed call ("" when none); valid
** until the next call on 's'. */
const char *rp_script_traceback(const struct rp_script *s);

/* Close the Lua state and free everything.  Accepts NULL. */
void rp_script_free(struct rp_script *s);

/* The folder of the shipped lua/ library for this binary: env
** REPLICATOR_LUA_PATH if set, else ../lua next to the executable when that
** exists (an uninstalled build), else the installed RP_LUA_DIR.  Writes a
** NUL-terminated path into 'out' ('size' bytes). */
void rp_script_lua_dir(char *out, size_t size);

#endif
