/* SPDX-License-Identifier: Apache-2.0
 *
 * api_page.c -- GET /: the status page, one server-rendered HTML page for
 * people: each plan with its last outcome, last success and its age
 * against the plan's alert threshold, and its next run; runs in progress;
 * recent failures; and whether each instance and destination answers.
 *
 * DESIGN
 * The page is rendered from the same answers the API gives (the body of
 * GET /v1/status, the runs list), so it cannot disagree with them, and it
 * works with JavaScript off.  It needs no build step and loads nothing
 * else: the style and a small script are inline, allowed by a per-response
 * nonce in a Content-Security-Policy that forbids everything else.  With
 * JavaScript on, the script listens to GET /v1/events and, after a change,
 * fetches the page again and swaps its <main> in (debounced), so the page
 * stays live without a second renderer in JS.
 *
 * Everything that comes from the catalogue or a remote (plan names,
 * errors, URLs, versions) is HTML-escaped on the way out (buf_append_escaped);
 * nothing is ever written raw.  Authentication: see auth.h (a browser
 * signs in with the token as the password of a Basic prompt, read-only).
 */
#include "api/api.h"
#include "api/app.h"
#include "http/http_reply.h"
#include "store/store_runs.h"
#include "util/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* The page's size limit: thousands of plans fit; beyond, a 500 says so
 * rather than an unbounded buffer. */
#define PAGE_MAX_BYTES (8u << 20)
/* Rows of the "running" and "recent failures" tables. */
#define PAGE_RUNS     20
#define PAGE_FAILURES 10

/* "3d 4h", "5h 12m", "7m 30s", "12s". */
static void human_duration(int64_t s, char *out, size_t outlen)
{
    if (s < 0)
        s = 0;
    if (s >= 86400)
        snprintf(out, outlen, "%lldd %lldh", (long long)(s / 86400), (long long)(s % 86400 / 3600));
    else if (s >= 3600)
        snprintf(out, outlen, "%lldh %lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
    else if (s >= 60)
        snprintf(out, outlen, "%lldm %llds", (long long)(s / 60), (long long)(s % 60));
    else
        snprintf(out, outlen, "%llds", (long long)s);
}

static const char *str_at(const cJSON *o, const char *key)
{
    return cJSON_GetStringValue(cJSON_GetObjectItem(o, key));
}

static double num_at(const cJSON *o, const char *key, double def)
{
    const cJSON *v = cJSON_GetObjectItem(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : def;
}

static const char PAGE_STYLE[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d2430;background:#f6f7f9}"
    "header{display:flex;gap:1em;align-items:center;padding:.8em 1.5em;background:#1d2430;"
    "color:#fff}header h1{font-size:1.2em;margin:0}main{padding:1em 1.5em}"
    "section{margin-bottom:1.5em}h2{font-size:1.05em;margin:.2em 0 .5em}"
    "table{border-collapse:collapse;width:100%;background:#fff}"
    "th,td{text-align:left;padding:.35em .6em;border-bottom:1px solid #e3e6ea;vertical-align:top}"
    "th{font-weight:600;color:#555;font-size:.9em}.badge{padding:.1em .6em;border-radius:1em;"
    "font-weight:600}.s-ok,.s-succeeded,.s-true{background:#d7f5df;color:#145a2a}"
    ".s-stale,.s-partial,.s-queued,.s-unknown,.s-never{background:#fff1c9;color:#6b4e00}"
    ".s-failing,.s-failed,.s-false,.s-cancelled{background:#ffd9d9;color:#8a1111}"
    ".s-running{background:#dce9ff;color:#123d8a}.s-disabled{background:#e8e8e8;color:#555}"
    ".muted{color:#777}.err{font-family:monospace;font-size:.9em;white-space:pre-wrap;"
    "word-break:break-word}.live{font-size:.85em;opacity:.8}meter,progress{width:8em}"
    "footer{color:#777;font-size:.85em}";

/* The script: live updates from /v1/events (see DESIGN). */
static const char PAGE_SCRIPT[] =
    "(function(){'use strict';"
    "var live=document.getElementById('live');"
    "if(!window.EventSource||!window.fetch||!window.DOMParser)return;"
    "var types=['run.queued','run.started','run.progress','run.succeeded','run.partial',"
    "'run.failed','run.cancelled','restore.queued','restore.started','restore.progress',"
    "'restore.succeeded','restore.partial','restore.failed','restore.cancelled',"
    "'verify.failed','plan.stale','instance.unreachable','instance.reachable',"
    "'destination.unreachable','destination.reachable','reset'];"
    "var timer=null,again=false,busy=false,opened=false;"
    "function refresh(){timer=null;if(busy){again=true;return;}busy=true;"
    "fetch(location.pathname,{credentials:'same-origin',cache:'no-store',"
    "headers:{'Accept':'text/html'}}).then(function(r){if(!r.ok)throw new Error(r.status);"
    "return r.text();}).then(function(t){var d=new DOMParser().parseFromString(t,'text/html');"
    "var m=d.getElementById('main'),cur=document.getElementById('main');"
    "if(m&&cur){cur.replaceWith(document.importNode(m,true));"
    "document.body.setAttribute('data-status',d.body.getAttribute('data-status')||'');"
    "var o=d.getElementById('overall'),co=document.getElementById('overall');"
    "if(o&&co)co.replaceWith(document.importNode(o,true));"
    "document.body.setAttribute('data-refreshes',"
    "String(Number(document.body.getAttribute('data-refreshes')||0)+1));}})"
    "['catch'](function(){}).then(function(){busy=false;if(again){again=false;kick();}});}"
    "function kick(){if(!timer)timer=setTimeout(refresh,300);}"
    "var es=new EventSource('/v1/events');"
    "types.forEach(function(t){es.addEventListener(t,kick);});"
    "es.onopen=function(){live.textContent='live';live.setAttribute('data-live','on');"
    "if(opened)kick();opened=true;};" /* a reconnect may have missed events */
    "es.onerror=function(){live.textContent='reconnecting';live.setAttribute('data-live','off');};"
    "})();";

/* The plan's state for people: disabled, stale, failing (last run failed
 * or partial), never (no success yet) or ok. */
static const char *plan_state(const cJSON *p)
{
    const cJSON *last = cJSON_GetObjectItem(p, "last_run");
    const char *last_state = str_at(last, "state");
    if (!cJSON_IsTrue(cJSON_GetObjectItem(p, "enabled")))
        return "disabled";
    if (cJSON_IsTrue(cJSON_GetObjectItem(p, "stale")))
        return "stale";
    if (last_state && (!strcmp(last_state, "failed") || !strcmp(last_state, "partial")))
        return "failing";
    if (!cJSON_IsObject(cJSON_GetObjectItem(p, "last_success")))
        return "never";
    return "ok";
}

static bool render_plans(struct buf *b, const cJSON *status)
{
    const cJSON *plans = cJSON_GetObjectItem(status, "plans");
    bool ok = buf_appends(b, "<section id=\"plans\"><h2>Plans</h2>");
    if (!cJSON_GetArraySize(plans))
        return ok && buf_appends(b, "<p class=\"muted\">No plans yet.</p></section>");
    ok = ok && buf_appends(b, "<table><thead><tr><th>Plan</th><th>State</th><th>Last run</th>"
                              "<th>Last success</th><th>Age / alert after</th><th>Next run</th>"
                              "</tr></thead><tbody>");
    const cJSON *p;
    cJSON_ArrayForEach(p, plans)
    {
        const char *name = str_at(p, "plan"), *state = plan_state(p);
        const cJSON *last = cJSON_GetObjectItem(p, "last_run");
        const cJSON *succ = cJSON_GetObjectItem(p, "last_success");
        const char *last_state = str_at(last, "state");
        double age = num_at(succ, "age_s", -1), alert = num_at(p, "alert_after", -1);
        char a[32], t[32];
        ok = ok && buf_appends(b, "<tr class=\"plan\" data-plan=\"") &&
             buf_append_escaped(b, name) &&
             buf_printf(b, "\" data-state=\"%s\"><td class=\"name\">", state) &&
             buf_append_escaped(b, name) &&
             buf_printf(b, "</td><td><span class=\"badge s-%s\">%s</span></td>", state, state);
        if (last_state)
            ok = ok && buf_printf(b, "<td class=\"outcome\" data-outcome=\"%s\">", last_state) &&
                 buf_printf(b, "<span class=\"badge s-%s\">", last_state) &&
                 buf_append_escaped(b, last_state) &&
                 buf_printf(b, "</span> <span class=\"muted\">#%.0f</span></td>",
                            num_at(last, "id", 0));
        else
            ok = ok && buf_appends(b, "<td class=\"outcome\" data-outcome=\"none\">"
                                      "<span class=\"muted\">never ran</span></td>");
        if (cJSON_IsObject(succ)) {
            human_duration((int64_t)age, a, sizeof a);
            ok = ok && buf_appends(b, "<td class=\"success\">") &&
                 buf_append_escaped(b, str_at(succ, "finished_at")) &&
                 buf_printf(b, "</td><td class=\"age\">%s ago", a);
        } else {
            ok = ok && buf_appends(b, "<td class=\"success muted\">none</td><td class=\"age\">");
        }
        if (alert > 0) {
            human_duration((int64_t)alert, t, sizeof t);
            ok = ok && buf_printf(b, " <span class=\"muted\">/ %s</span>", t);
            if (age >= 0)
                ok = ok && buf_printf(b,
                                      " <meter min=\"0\" max=\"%.0f\" high=\"%.0f\" "
                                      "value=\"%.0f\"></meter>",
                                      alert, alert * 0.75, age < alert ? age : alert);
        }
        ok = ok && buf_appends(b, "</td><td class=\"next\">");
        const char *next = str_at(p, "next_run_at");
        ok = ok &&
             (next ? buf_append_escaped(b, next)
                   : buf_appends(b, "<span class=\"muted\">-</span>")) &&
             buf_appends(b, "</td></tr>");
    }
    return ok && buf_appends(b, "</tbody></table></section>");
}

static bool render_run_row(struct buf *b, const struct store_run *r, bool failure)
{
    char ts[32];
    bool ok = buf_printf(b, "<tr class=\"%s\" data-run=\"%lld\" data-state=\"",
                         failure ? "failure" : "run", (long long)r->id) &&
              buf_append_escaped(b, r->state) &&
              buf_printf(b, "\"><td>#%lld</td><td>", (long long)r->id) &&
              buf_append_escaped(b, r->kind) && buf_appends(b, "</td><td class=\"plan\">") &&
              buf_append_escaped(b, r->plan_name ? r->plan_name : "-") &&
              buf_appends(b, "</td><td><span class=\"badge s-") &&
              buf_append_escaped(b, r->state) && buf_appends(b, "\">") &&
              buf_append_escaped(b, r->state) && buf_appends(b, "</span></td><td>");
    if (failure) {
        qb_format_time(r->finished_at, ts, sizeof ts);
        return ok && buf_append_escaped(b, ts) && buf_appends(b, "</td><td class=\"err\">") &&
               buf_append_escaped(b, r->error ? r->error : "") && buf_appends(b, "</td></tr>");
    }
    ok = ok &&
         buf_append_escaped(b, r->phase ? r->phase : (strcmp(r->state, "queued") ? "" : "waiting"));
    ok = ok && buf_appends(b, "</td><td class=\"progress\">");
    if (r->bytes_total > 0)
        ok = ok && buf_printf(b, "<progress max=\"%lld\" value=\"%lld\"></progress> ",
                              (long long)r->bytes_total, (long long)r->bytes_done);
    return ok && buf_printf(b, "%.1f MiB</td></tr>", (double)r->bytes_done / 1048576.0);
}

/* Runs in state (newest first, at most limit) into *list. */
static enum qb_err runs_in(struct app *app, const char *state, int limit, struct store_run ***list,
                           size_t *n, char *err, size_t errlen)
{
    struct store_run_filter f = {.state = state, .limit = limit};
    return store_run_list(app->store, &f, list, n, err, errlen);
}

static bool render_runs(struct buf *b, struct app *app, bool failures)
{
    char err[QB_ERRBUF_SIZE];
    static const char *const active[] = {"running", "queued"};
    static const char *const failed[] = {"failed", "partial"};
    const char *const *states = failures ? failed : active;
    bool ok = failures ? buf_appends(b, "<section id=\"failures\"><h2>Recent failures</h2>")
                       : buf_appends(b, "<section id=\"running\"><h2>Running</h2>");
    struct store_run **lists[2] = {NULL, NULL};
    size_t ns[2] = {0, 0};
    bool any = false, failed_read = false;
    for (int k = 0; k < 2; k++) {
        if (runs_in(app, states[k], failures ? PAGE_FAILURES : PAGE_RUNS, &lists[k], &ns[k], err,
                    sizeof err))
            failed_read = true;
        any = any || ns[k];
    }
    if (failed_read)
        ok = ok && buf_appends(b, "<p class=\"err\">The catalogue did not answer.</p>");
    if (!any) {
        ok = ok && buf_appends(b, failures ? "<p class=\"muted\">No failed runs.</p>"
                                           : "<p class=\"muted\">Nothing running.</p>");
    } else {
        ok = ok && buf_printf(b,
                              "<table><thead><tr><th>Run</th><th>Kind</th><th>Plan</th>"
                              "<th>State</th><th>%s</th><th>%s</th></tr></thead><tbody>",
                              failures ? "Finished" : "Phase", failures ? "Error" : "Progress");
        /* Two lists, each newest first: merged by id, newest first. */
        size_t i = 0, j = 0, shown = 0, max = failures ? PAGE_FAILURES : PAGE_RUNS;
        while (ok && shown < max && (i < ns[0] || j < ns[1])) {
            bool first = j >= ns[1] || (i < ns[0] && lists[0][i]->id > lists[1][j]->id);
            const struct store_run *r = first ? lists[0][i++] : lists[1][j++];
            ok = render_run_row(b, r, failures);
            shown++;
        }
        ok = ok && buf_appends(b, "</tbody></table>");
    }
    for (int k = 0; k < 2; k++)
        store_run_list_free(lists[k], ns[k]);
    return ok && buf_appends(b, "</section>");
}

static bool render_targets(struct buf *b, const cJSON *status)
{
    bool ok = buf_appends(b, "<section id=\"reachability\"><h2>Instances and destinations</h2>"
                             "<table><thead><tr><th>Kind</th><th>Name</th><th>Answers</th>"
                             "<th>Where</th><th>Detail</th></tr></thead><tbody>");
    static const char *const kinds[] = {"instances", "destinations"};
    for (int k = 0; k < 2; k++) {
        const cJSON *t;
        cJSON_ArrayForEach(t, cJSON_GetObjectItem(status, kinds[k]))
        {
            const cJSON *v = cJSON_GetObjectItem(t, k ? "writable" : "reachable");
            const char *okv = cJSON_IsTrue(v) ? "true" : cJSON_IsFalse(v) ? "false" : "unknown";
            const char *word = cJSON_IsTrue(v)    ? (k ? "writable" : "reachable")
                               : cJSON_IsFalse(v) ? (k ? "not writable" : "unreachable")
                                                  : "not checked";
            const char *where = str_at(t, k ? "path" : "url");
            ok = ok &&
                 buf_printf(b, "<tr class=\"target\" data-kind=\"%s\" data-name=\"",
                            k ? "destination" : "instance") &&
                 buf_append_escaped(b, str_at(t, "name")) &&
                 buf_printf(b, "\" data-ok=\"%s\"><td>%s</td><td>", okv,
                            k ? "destination" : "instance") &&
                 buf_append_escaped(b, str_at(t, "name")) &&
                 buf_printf(b, "</td><td><span class=\"badge s-%s\">%s</span></td><td>", okv,
                            word) &&
                 buf_append_escaped(b,
                                    where ? where : (str_at(t, "kind") ? str_at(t, "kind") : "")) &&
                 buf_appends(b, "</td><td class=\"err\">") &&
                 buf_append_escaped(b, str_at(t, "detail")) && buf_appends(b, "</td></tr>");
        }
    }
    return ok && buf_appends(b, "</tbody></table></section>");
}

void api_page(struct http_request *req)
{
    struct app *app = http_req_app(req);
    char err[QB_ERRBUF_SIZE];
    cJSON *status = NULL;
    enum qb_err rc = api_status_build(app, &status, err, sizeof err);
    if (rc) {
        http_reply_error(req, rc, err);
        return;
    }
    unsigned char raw[16];
    char nonce[33];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
        cJSON_Delete(status);
        http_reply_problem(req, API_ERR_INTERNAL, "no randomness for the page's nonce");
        return;
    }
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(nonce + 2 * i, 3, "%02x", raw[i]);
    const char *overall = str_at(status, "status");
    struct buf b;
    buf_init(&b, PAGE_MAX_BYTES);
    bool ok =
        buf_printf(&b,
                   "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                   "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
                   "<title>qbackup status</title><style nonce=\"%s\">%s</style></head>"
                   "<body data-status=\"%s\"><header><h1>qbackup</h1>"
                   "<span id=\"overall\" class=\"badge s-%s\">%s</span>"
                   "<span id=\"live\" class=\"live\" data-live=\"off\">static</span>"
                   "</header><main id=\"main\" data-generated=\"%s\">",
                   nonce, PAGE_STYLE, overall, overall, overall, str_at(status, "generated_at"));
    ok = ok && render_plans(&b, status) && render_runs(&b, app, false) &&
         render_runs(&b, app, true) && render_targets(&b, status);
    ok = ok && buf_printf(&b,
                          "<footer>Generated %s. The same data: <a href=\"/v1/status\">"
                          "/v1/status</a>, <a href=\"/v1/runs\">/v1/runs</a>.</footer></main>"
                          "<script nonce=\"%s\">%s</script></body></html>\n",
                          str_at(status, "generated_at"), nonce, PAGE_SCRIPT);
    cJSON_Delete(status);
    if (!ok) {
        buf_free(&b);
        http_reply_problem(req, API_ERR_INTERNAL, "the page exceeds %u bytes", PAGE_MAX_BYTES);
        return;
    }
    http_reply_text(req, 200, "text/html; charset=utf-8", b.data, b.len);
    buf_free(&b);
    char csp[400];
    snprintf(csp, sizeof csp,
             "default-src 'none'; style-src 'nonce-%s'; script-src 'nonce-%s'; "
             "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
             nonce, nonce);
    http_reply_header(req, "Content-Security-Policy", csp);
    http_reply_header(req, "X-Content-Type-Options", "nosniff");
    http_reply_header(req, "Referrer-Policy", "no-referrer");
}
