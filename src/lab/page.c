/*
 * page.c - the lab's one page (lab.h: lab_page_write): index.html in the
 * folder of `descent demo all`, telling the lecture demo by demo.
 *
 * Per demo, in the lecture's order: its slides, the slide's claim, the
 * command that reproduces it, its pictures and animations (the files in its
 * folder, referenced relatively so the folder can be moved or zipped), its
 * tables of numbers, its notes and what to look for. The page is
 * self-contained: inline CSS, no address outside the folder, and it reads
 * fully without JavaScript. One small script (plain JavaScript, no library)
 * adds a replay of each runs' iterates: a slider over the runs (the step
 * sizes of step-size, the methods elsewhere) and one over the iterations,
 * with a play button; the iterates are embedded in the page as arrays, since
 * a page opened from file:// cannot fetch the CSV files beside it.
 *
 * Every text from a demo goes through html_text (or js_string inside the
 * script), so a label holding '<' or '&' reads as itself.
 */
#include "lab.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- escaping ---------------------------------------------------------------- */

void lab_html_text(FILE *f, const char *s) {
  for (; s && *s; s++) switch (*s) {
    case '<':
      fputs("&lt;", f);
      break;
    case '>':
      fputs("&gt;", f);
      break;
    case '&':
      fputs("&amp;", f);
      break;
    case '"':
      fputs("&quot;", f);
      break;
    case '\'':
      fputs("&#39;", f);
      break;
    default:
      if ((unsigned char)*s >= 32 || *s == '\n' || *s == '\t') fputc(*s, f);
    }
}

/* A double-quoted JavaScript string that cannot end its <script> element:
   '<' is written \u003c, so no "</script" can appear. */
static void js_string(FILE *f, const char *s) {
  fputc('"', f);
  for (; s && *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      fprintf(f, "\\%c", c);
    else if (c < 32 || c == '<' || c == '>' || c == '&')
      fprintf(f, "\\u%04x", c);
    else
      fputc(c, f);
  }
  fputc('"', f);
}

/* A number for the script: null when not finite (JSON has no NaN). */
static void js_number(FILE *f, double v, int digits) {
  if (isfinite(v))
    fprintf(f, "%.*g", digits, v);
  else
    fputs("null", f);
}

/* ---- small helpers ----------------------------------------------------------- */

static int ends_with(const char *s, const char *tail) {
  size_t n = strlen(s), k = strlen(tail);
  return n >= k && strcmp(s + n - k, tail) == 0;
}

static int file_exists(const char *dir, const char *folder, const char *name) {
  char path[4400];
  snprintf(path, sizeof path, "%s/%s/%s", dir, folder, name);
  return access(path, R_OK) == 0;
}

/* ---- CSV files of iterates, curves and contours -------------------------------- */

/* A CSV file of numbers (the second column may be text: a path's method). */
typedef struct csv_file {
  char header[160];
  int n_cols;
  size_t n_rows;
  double *num;  /* n_rows x n_cols; the text column is NAN */
  char **label; /* per row: the second column's text (paths only) */
} csv_file;

static void csv_free(csv_file *c) {
  for (size_t i = 0; c->label && i < c->n_rows; i++) free(c->label[i]);
  free(c->label);
  free(c->num);
  memset(c, 0, sizeof *c);
}

/* Reads dir/folder/name when its header is `header`; at most max_rows rows.
   0, or -1 (missing, another header, too long, out of memory). */
static int csv_read(const char *dir, const char *folder, const char *name, const char *header,
                    int text_col, size_t max_rows, csv_file *out) {
  memset(out, 0, sizeof *out);
  char path[4400], line[512];
  snprintf(path, sizeof path, "%s/%s/%s", dir, folder, name);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  if (!fgets(line, sizeof line, f) || strncmp(line, header, strlen(header)) != 0 ||
      (line[strlen(header)] != '\n' && line[strlen(header)] != '\r')) {
    fclose(f);
    return -1;
  }
  snprintf(out->header, sizeof out->header, "%s", header);
  out->n_cols = 1;
  for (const char *p = header; *p; p++) out->n_cols += *p == ',';
  size_t cap = 0;
  int bad = 0;
  while (!bad && fgets(line, sizeof line, f)) {
    if (line[0] == '\n' || line[0] == '\r') continue; /* between contour lines */
    if (out->n_rows == max_rows) {
      bad = 1;
      break;
    }
    if (out->n_rows == cap) {
      cap = cap ? 2 * cap : 256;
      double *num = realloc(out->num, cap * (size_t)out->n_cols * sizeof *num);
      char **label = realloc(out->label, cap * sizeof *label);
      if (num) out->num = num;
      if (label) out->label = label;
      if (!num || !label) {
        bad = 1;
        break;
      }
    }
    size_t r = out->n_rows;
    out->label[r] = NULL;
    char *p = line;
    for (int c = 0; c < out->n_cols; c++) {
      char *end = strpbrk(p, ",\n\r");
      char save = end ? *end : '\0';
      if (end) *end = '\0';
      if (c == text_col) {
        out->num[r * (size_t)out->n_cols + (size_t)c] = NAN;
        out->label[r] = strdup(p);
        if (!out->label[r]) bad = 1;
      } else {
        char *stop;
        double v = strtod(p, &stop);
        out->num[r * (size_t)out->n_cols + (size_t)c] = stop == p ? NAN : v;
      }
      if (!end || save != ',') {
        if (c != out->n_cols - 1) bad = 1;
        break;
      }
      p = end + 1;
    }
    out->n_rows++;
  }
  fclose(f);
  if (bad || out->n_rows == 0) {
    csv_free(out);
    return -1;
  }
  return 0;
}

static double csv_at(const csv_file *c, size_t r, int col) {
  return c->num[r * (size_t)c->n_cols + (size_t)col];
}

/* ---- the replay of a paths file ----------------------------------------------------- */

#define PAGE_MAX_BACKDROPS     LAB_MAX_FILES
#define PAGE_MAX_PATH_ROWS     20000
#define PAGE_MAX_BACKDROP_ROWS 60000

/* The stem of a backdrop file without the demo's name and "-contours" or
   "-curve": "quadratic" for step-size-quadratic.csv, "aligned" for
   per-direction-aligned-contours.csv; "" when nothing is left. */
static void backdrop_key(const char *demo, const char *file, char *key, size_t cap) {
  size_t n = strlen(demo);
  const char *p = strncmp(file, demo, n) == 0 ? file + n : file;
  while (*p == '-') p++;
  snprintf(key, cap, "%s", p);
  char *dot = strrchr(key, '.');
  if (dot) *dot = '\0';
  static const char *const tails[] = {"-contours", "-curve", "contours", "curve"};
  for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++)
    if (ends_with(key, tails[i])) {
      key[strlen(key) - strlen(tails[i])] = '\0';
      break;
    }
}

/* Which backdrop a run is drawn over: the only one; else the one whose key
   (backdrop_key) the run's method or the paths file's name holds; else none. */
static int backdrop_of(const char *method, const char *paths_file, char (*keys)[LAB_TEXT], int n) {
  if (n == 1) return 0;
  for (int i = 0; i < n; i++)
    if (keys[i][0] && method && strstr(method, keys[i])) return i;
  for (int i = 0; i < n; i++)
    if (keys[i][0] && strstr(paths_file, keys[i])) return i;
  return -1;
}

static void js_backdrop(FILE *f, const csv_file *c, int contours) {
  /* contours: segments as pairs of rows; curves: one polyline */
  fprintf(f, "{kind:\"%s\",xy:[", contours ? "segments" : "line");
  for (size_t r = 0; r < c->n_rows; r++) {
    if (r) fputc(',', f);
    js_number(f, csv_at(c, r, 0), 4);
    fputc(',', f);
    js_number(f, csv_at(c, r, 1), 4);
  }
  fprintf(f, "]}");
}

/* One replay per file of iterates (header run,method,t,theta,f,gap or
   run,method,t,x,y,f,gap) in the demo's folder: the data as a script, and
   the controls, hidden until the script shows them. */
static void replays(FILE *f, const char *dir, const lab_page_demo *d, int *counter) {
  const lab_result *r = d->result;
  csv_file back[PAGE_MAX_BACKDROPS];
  char keys[PAGE_MAX_BACKDROPS][LAB_TEXT];
  int n_back = 0, back_dim[PAGE_MAX_BACKDROPS];
  for (int i = 0; i < r->n_files && n_back < PAGE_MAX_BACKDROPS; i++) {
    if (!ends_with(r->files[i], ".csv")) continue;
    if (csv_read(dir, d->folder, r->files[i], "theta,f", -1, PAGE_MAX_BACKDROP_ROWS,
                 &back[n_back]) == 0)
      back_dim[n_back] = 1;
    else if (csv_read(dir, d->folder, r->files[i], "x,y,level", -1, PAGE_MAX_BACKDROP_ROWS,
                      &back[n_back]) == 0)
      back_dim[n_back] = 2;
    else
      continue;
    backdrop_key(d->demo->name, r->files[i], keys[n_back], LAB_TEXT);
    n_back++;
  }
  for (int i = 0; i < r->n_files; i++) {
    if (!ends_with(r->files[i], ".csv")) continue;
    csv_file p;
    int dim = 1;
    if (csv_read(dir, d->folder, r->files[i], "run,method,t,theta,f,gap", 1, PAGE_MAX_PATH_ROWS,
                 &p) != 0) {
      dim = 2;
      if (csv_read(dir, d->folder, r->files[i], "run,method,t,x,y,f,gap", 1, PAGE_MAX_PATH_ROWS,
                   &p) != 0)
        continue;
    }
    /* The backdrops of this dimension, in the order they are embedded. */
    char same_keys[PAGE_MAX_BACKDROPS][LAB_TEXT];
    int same[PAGE_MAX_BACKDROPS], n_same = 0;
    for (int b = 0; b < n_back; b++)
      if (back_dim[b] == dim) {
        memcpy(same_keys[n_same], keys[b], LAB_TEXT);
        same[n_same++] = b;
      }
    int id = (*counter)++;
    fprintf(f, "<script>LAB_REPLAYS.push({id:\"replay-%d\",dim:%d,file:", id, dim);
    js_string(f, r->files[i]);
    fprintf(f, ",backdrops:[");
    for (int b = 0; b < n_same; b++) {
      if (b) fputc(',', f);
      js_backdrop(f, &back[same[b]], dim == 2);
    }
    fprintf(f, "],runs:[");
    int first = 1, fcol = dim == 1 ? 4 : 5;
    for (size_t row = 0; row < p.n_rows;) {
      double run = csv_at(&p, row, 0);
      size_t end = row + 1; /* at least one row: a run read as NaN equals no other */
      while (end < p.n_rows && csv_at(&p, end, 0) == run) end++;
      fprintf(f, "%s{name:", first ? "" : ",\n");
      first = 0;
      js_string(f, p.label[row]);
      fprintf(f, ",backdrop:%d,t:[", backdrop_of(p.label[row], r->files[i], same_keys, n_same));
      for (size_t k = row; k < end; k++) {
        if (k > row) fputc(',', f);
        js_number(f, csv_at(&p, k, 2), 6);
      }
      fprintf(f, "],x:[");
      for (size_t k = row; k < end; k++) {
        if (k > row) fputc(',', f);
        js_number(f, csv_at(&p, k, 3), 6);
      }
      fprintf(f, "],y:%s", dim == 2 ? "[" : "null"); /* 1D: f is the other axis */
      for (size_t k = row; dim == 2 && k < end; k++) {
        if (k > row) fputc(',', f);
        js_number(f, csv_at(&p, k, 4), 6);
      }
      fprintf(f, "%s,f:[", dim == 2 ? "]" : "");
      for (size_t k = row; k < end; k++) {
        if (k > row) fputc(',', f);
        js_number(f, csv_at(&p, k, fcol), 6);
      }
      fprintf(f, "],gap:[");
      for (size_t k = row; k < end; k++) {
        if (k > row) fputc(',', f);
        js_number(f, csv_at(&p, k, fcol + 1), 6);
      }
      fprintf(f, "]}");
      row = end;
    }
    fprintf(f, "]});</script>\n");
    fprintf(f,
            "<div class=\"replay\" id=\"replay-%d\" hidden>\n"
            "<p class=\"replay-title\">Replay of the iterates in <code>",
            id);
    lab_html_text(f, r->files[i]);
    fprintf(f, "</code>: choose a run, then move through its iterations or play them.</p>\n"
               "<div class=\"replay-controls\">"
               "<label>run <input type=\"range\" class=\"run\" min=\"0\" value=\"0\" step=\"1\">"
               "</label> <output class=\"run-name\"></output><br>"
               "<label>iterate <input type=\"range\" class=\"step\" min=\"0\" value=\"0\" "
               "step=\"1\"></label> <button type=\"button\" class=\"play\">play</button> "
               "<output class=\"readout\"></output></div>\n"
               "<canvas class=\"plane\" width=\"560\" height=\"420\"></canvas>"
               "<canvas class=\"gap\" width=\"560\" height=\"420\"></canvas>\n</div>\n");
    csv_free(&p);
  }
  for (int b = 0; b < n_back; b++) csv_free(&back[b]);
}

/* ---- the page's pieces ---------------------------------------------------------- */

static const char *const style =
    "body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222;"
    "line-height:1.45}"
    "h1{font-size:1.6em}h2{font-size:1.3em;margin-top:2.5em;border-bottom:2px solid #ccd}"
    "h2 .slides{font-weight:normal;color:#667;font-size:.8em;margin-left:.6em}"
    "nav ol{columns:2;column-gap:3em}nav li{margin:.2em 0}"
    ".claim{font-size:1.08em;border-left:4px solid #4a6fa5;padding:.3em .8em;background:#f3f6fb}"
    ".look{border-left:4px solid #b5832a;padding:.3em .8em;background:#fbf7ef}"
    ".skipped{color:#8a2a00}.hint{color:#555;font-size:.9em}.summary{color:#444}"
    "pre.command{background:#f6f6f6;padding:.6em 1em;overflow-x:auto}"
    ".tables{overflow-x:auto}"
    "table{border-collapse:collapse;margin:1em 0;font-size:.9em}"
    "caption{text-align:left;font-weight:bold;padding:.3em 0}"
    "td,th{padding:.2em .7em;border-bottom:1px solid #e4e4e4;text-align:right;"
    "white-space:nowrap}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}"
    "figure{margin:1.5em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}"
    "figcaption{color:#555;font-size:.9em}"
    ".notes li,.page-notes li{margin:.3em 0}"
    ".replay{margin:1.5em 0;padding:.6em;border:1px solid #dde;background:#fafaff}"
    ".replay canvas{max-width:49%;height:auto;border:1px solid #eee;background:#fff;"
    "margin-right:.5%}"
    ".replay-controls{margin:.4em 0}.replay-controls input{width:22em;vertical-align:middle}"
    "output{font-family:monospace}";

static void table_html(FILE *f, const lab_table *t) {
  char buf[LAB_TEXT + 8];
  fprintf(f, "<table id=\"table-");
  lab_html_text(f, t->name);
  fprintf(f, "\">\n<caption>");
  lab_html_text(f, t->title);
  fprintf(f, "</caption>\n<thead><tr>");
  for (int c = 0; c < t->n_cols; c++) {
    fprintf(f, "<th>");
    lab_html_text(f, t->cols[c]);
    fprintf(f, "</th>");
  }
  fprintf(f, "</tr></thead>\n<tbody>\n");
  for (size_t r = 0; r < t->n_rows; r++) {
    fprintf(f, "<tr>");
    for (int c = 0; c < t->n_cols; c++) {
      /* full = 0: the same text as the terminal's tables (lab_table_print). */
      lab_cell_format(&t->cells[r * (size_t)t->n_cols + (size_t)c], 0, buf, sizeof buf);
      fprintf(f, c ? "<td>" : "<th>");
      lab_html_text(f, buf);
      fprintf(f, c ? "</td>" : "</th>");
    }
    fprintf(f, "</tr>\n");
  }
  fprintf(f, "</tbody>\n</table>\n");
}

/* A relative address: folder/name, with the characters an address must not
   hold as such percent-encoded. */
static void href(FILE *f, const char *folder, const char *name) {
  char both[2 * LAB_TEXT + 8];
  snprintf(both, sizeof both, "%s/%s", folder, name);
  for (const char *p = both; *p; p++) {
    unsigned char c = (unsigned char)*p;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
        strchr("-_./", c))
      fputc(c, f);
    else
      fprintf(f, "%%%02X", c);
  }
}

/* One picture: stem.png (linking to stem.svg), or a line saying how to draw it. */
static void picture(FILE *f, const char *dir, const lab_page_demo *d, const char *stem) {
  char png[LAB_TEXT + 8], svg[LAB_TEXT + 8], gp[LAB_TEXT + 8];
  snprintf(png, sizeof png, "%s.png", stem);
  snprintf(svg, sizeof svg, "%s.svg", stem);
  snprintf(gp, sizeof gp, "%s.gp", stem);
  fprintf(f, "<figure>\n");
  if (file_exists(dir, d->folder, png)) {
    fprintf(f, "<a href=\"");
    href(f, d->folder, file_exists(dir, d->folder, svg) ? svg : png);
    fprintf(f, "\"><img src=\"");
    href(f, d->folder, png);
    fprintf(f, "\" alt=\"");
    lab_html_text(f, d->demo->name);
    fprintf(f, ": ");
    lab_html_text(f, stem);
    fprintf(f, "\"></a>\n<figcaption>");
    lab_html_text(f, png);
    if (file_exists(dir, d->folder, svg)) {
      fprintf(f, " (<a href=\"");
      href(f, d->folder, svg);
      fprintf(f, "\">SVG</a>)");
    }
  } else {
    fprintf(f, "<figcaption class=\"skipped\">");
    lab_html_text(f, png);
    fprintf(f, " was not drawn (gnuplot missing?): run <code>gnuplot ");
    lab_html_text(f, gp);
    fprintf(f, "</code> in <code>");
    lab_html_text(f, d->folder);
    fprintf(f, "</code>");
  }
  fprintf(f, "; drawn by <a href=\"");
  href(f, d->folder, gp);
  fprintf(f, "\">");
  lab_html_text(f, gp);
  fprintf(f, "</a>.</figcaption>\n</figure>\n");
}

/* An animation: `name` is a GIF file of the demo's folder, or the stem of
   one (stem.gif, drawn by stem-anim.gp); one the folder lacks (not asked
   for with --gif, or gnuplot missing) gets a line saying how to draw it. */
static void animation(FILE *f, const char *dir, const lab_page_demo *d, const char *name) {
  char gif[LAB_TEXT + 8];
  snprintf(gif, sizeof gif, ends_with(name, ".gif") ? "%s" : "%s.gif", name);
  if (!file_exists(dir, d->folder, gif)) {
    /* Not asked for (GIFs are drawn with --gif) or gnuplot missing: a hint,
       not a fault. */
    fprintf(f, "<p class=\"hint\">Animation: <code>descent demo ");
    lab_html_text(f, d->demo->name);
    fprintf(f, " --gif</code> draws ");
    lab_html_text(f, gif);
    fprintf(f, ", the iterates revealed one at a time.</p>\n");
    return;
  }
  fprintf(f, "<figure class=\"animation\">\n<img src=\"");
  href(f, d->folder, gif);
  fprintf(f, "\" alt=\"");
  lab_html_text(f, d->demo->name);
  fprintf(f, ": animation ");
  lab_html_text(f, gif);
  fprintf(f, "\">\n<figcaption>");
  lab_html_text(f, gif);
  fprintf(f, " (animated: reload the page to replay it)</figcaption>\n</figure>\n");
}

static void paragraph(FILE *f, const char *cls, const char *lead, const char *text) {
  if (!text || !text[0]) return;
  fprintf(f, "<p class=\"%s\">", cls);
  if (lead) fprintf(f, "<b>%s</b> ", lead);
  lab_html_text(f, text);
  fprintf(f, "</p>\n");
}

static void section(FILE *f, const char *dir, const lab_page_demo *d, int *replay_counter) {
  const lab_demo *demo = d->demo;
  fprintf(f, "<section id=\"demo-");
  lab_html_text(f, demo->name);
  fprintf(f, "\">\n<h2>");
  lab_html_text(f, demo->name);
  fprintf(f, "<span class=\"slides\">");
  lab_html_text(f, demo->slides);
  fprintf(f, "</span></h2>\n");
  paragraph(f, "summary", NULL, demo->summary);
  paragraph(f, "claim", "The claim:", demo->claim);
  if (d->command) {
    fprintf(f, "<pre class=\"command\">");
    lab_html_text(f, d->command);
    fprintf(f, "</pre>\n");
  }
  if (!d->result) {
    paragraph(f, "skipped", "Not run here:", d->skipped ? d->skipped : "not run");
    paragraph(f, "look", "What to look for:", demo->look_for);
    fprintf(f, "</section>\n");
    return;
  }
  const lab_result *r = d->result;
  for (int i = 0; i < r->n_pictures; i++) picture(f, dir, d, r->pictures[i]);
  /* Animations: the GIF files among the files the demo wrote, and the
     animations it recorded (drawn by `--gif`). */
  for (int i = 0; i < r->n_files; i++)
    if (ends_with(r->files[i], ".gif")) animation(f, dir, d, r->files[i]);
  for (int i = 0; i < r->n_animations; i++) animation(f, dir, d, r->animations[i]);
  replays(f, dir, d, replay_counter);
  paragraph(f, "look", "What to look for:", demo->look_for);
  if (r->n_tables) fprintf(f, "<div class=\"tables\">\n");
  for (int i = 0; i < r->n_tables; i++) table_html(f, &r->tables[i]);
  if (r->n_tables) fprintf(f, "</div>\n");
  if (r->n_notes) {
    fprintf(f, "<ul class=\"notes\">\n");
    for (int i = 0; i < r->n_notes; i++) {
      fprintf(f, "<li>");
      lab_html_text(f, r->notes[i]);
      fprintf(f, "</li>\n");
    }
    fprintf(f, "</ul>\n");
  }
  fprintf(f, "<p class=\"files\">Data: ");
  for (int i = 0; i < r->n_files; i++) {
    fprintf(f, "%s<a href=\"", i ? ", " : "");
    href(f, d->folder, r->files[i]);
    fprintf(f, "\">");
    lab_html_text(f, r->files[i]);
    fprintf(f, "</a>");
  }
  fprintf(f, ".</p>\n</section>\n");
}

/* The replay's code: plain JavaScript on a 2D canvas, no library. Each
   replay's data arrived in LAB_REPLAYS; a replay's controls are shown only
   here, so without JavaScript the page has none that do nothing. */
static const char *const script =
    "(function(){\n"
    "'use strict';\n"
    "var colors=LAB_COLORS;\n"
    "function finite(v){return v!==null&&isFinite(v);}\n"
    "function bounds(xs,ys,b,limit){for(var i=0;i<xs.length;i++){var x=xs[i],y=ys[i];\n"
    "  if(!finite(x)||!finite(y)||Math.abs(x)>limit||Math.abs(y)>limit)continue;\n"
    "  if(x<b[0])b[0]=x;if(x>b[1])b[1]=x;if(y<b[2])b[2]=y;if(y>b[3])b[3]=y;}return b;}\n"
    "function frame(ctx,w,h,b,pad,equal){var sx=(w-2*pad)/((b[1]-b[0])||1),"
    "sy=(h-2*pad)/((b[3]-b[2])||1);\n"
    "  if(equal){var s=Math.min(sx,sy);sx=s;sy=s;}\n"
    "  var ox=pad+((w-2*pad)-(b[1]-b[0])*sx)/2,oy=pad+((h-2*pad)-(b[3]-b[2])*sy)/2;\n"
    "  return {x:function(v){return ox+(v-b[0])*sx;},y:function(v){return h-oy-(v-b[2])*sy;}};}\n"
    "function drawPlane(cv,data,run,k){var ctx=cv.getContext('2d'),w=cv.width,h=cv.height;\n"
    "  ctx.clearRect(0,0,w,h);var bd=run.backdrop>=0?data.backdrops[run.backdrop]:null;\n"
    "  var b=[Infinity,-Infinity,Infinity,-Infinity],xy,i;\n"
    "  if(bd){var bx=[],by=[];for(i=0;i<bd.xy.length;i+=2){bx.push(bd.xy[i]);by.push(bd.xy[i+1]);}"
    "bounds(bx,by,b,1e300);}\n"
    "  var px=run.x,py=data.dim===1?run.f:run.y;\n"
    "  if(data.dim===1&&bd){var r=bounds(px,py,[Infinity,-Infinity,Infinity,-Infinity],1e3);\n"
    "    if(isFinite(r[0])){var pad=Math.max(.25*(r[1]-r[0]),.1*(b[1]-b[0]));b=[r[0]-pad,r[1]+pad,"
    "Infinity,-Infinity];\n"
    "      for(i=0;i<bd.xy.length;i+=2)if(bd.xy[i]>=b[0]&&bd.xy[i]<=b[1])"
    "bounds([bd.xy[i]],[bd.xy[i+1]],b,1e300);bounds(px,py,b,1e3);\n"
    "      b[3]=Math.min(b[3],r[3]+.3*((r[3]-r[2])||1));}}\n"
    "  if(!isFinite(b[0])){bounds(px,py,b,1e3);}else{var wx=b[1]-b[0],wy=b[3]-b[2];"
    "var lim=[b[0]-wx,b[1]+wx,b[2]-wy,b[3]+wy];\n"
    "    for(i=0;i<px.length;i++){if(finite(px[i])&&finite(py[i])&&px[i]>=lim[0]&&px[i]<=lim[1]"
    "&&py[i]>=lim[2]&&py[i]<=lim[3])bounds([px[i]],[py[i]],b,1e300);}}\n"
    "  if(!isFinite(b[0])){ctx.fillText('no finite iterate',20,20);return;}\n"
    "  var m=frame(ctx,w,h,b,30,data.dim===2);\n"
    "  ctx.save();ctx.beginPath();ctx.rect(0,0,w,h);ctx.clip();\n"
    "  if(bd){ctx.strokeStyle='#bbb';ctx.lineWidth=1;ctx.beginPath();xy=bd.xy;\n"
    "    if(bd.kind==='segments'){for(i=0;i+3<xy.length;i+=4){ctx.moveTo(m.x(xy[i]),m.y(xy[i+1]));"
    "ctx.lineTo(m.x(xy[i+2]),m.y(xy[i+3]));}}\n"
    "    else{for(i=0;i+1<xy.length;i+=2){if(i)ctx.lineTo(m.x(xy[i]),m.y(xy[i+1]));"
    "else ctx.moveTo(m.x(xy[i]),m.y(xy[i+1]));}}ctx.stroke();}\n"
    "  var c=colors[data.runs.indexOf(run)%colors.length];\n"
    "  ctx.strokeStyle=c;ctx.fillStyle=c;ctx.lineWidth=1.5;ctx.beginPath();\n"
    "  for(i=0;i<=k&&i<px.length;i++){if(!finite(px[i])||!finite(py[i]))break;"
    "if(i)ctx.lineTo(m.x(px[i]),m.y(py[i]));else ctx.moveTo(m.x(px[i]),m.y(py[i]));}ctx.stroke();\n"
    "  for(i=0;i<=k&&i<px.length;i++){if(!finite(px[i])||!finite(py[i]))break;ctx.beginPath();"
    "ctx.arc(m.x(px[i]),m.y(py[i]),i===k?5:2.5,0,7);ctx.fill();}\n"
    "  ctx.restore();ctx.fillStyle='#333';ctx.font='13px sans-serif';\n"
    "  ctx.fillText(data.dim===1?'\\u03b8 (across) against f (up)':'\\u03b8\\u2081 (across), "
    "\\u03b8\\u2082 (up)',8,16);}\n"
    "function drawGap(cv,data,run,k){var ctx=cv.getContext('2d'),w=cv.width,h=cv.height;\n"
    "  ctx.clearRect(0,0,w,h);var g=[],t=[],i,tmax=run.t[run.t.length-1],logx=tmax>100;\n"
    "  for(i=0;i<run.gap.length;i++){t.push(logx?Math.log(1+run.t[i])/Math.LN10:run.t[i]);"
    "g.push(finite(run.gap[i])&&run.gap[i]>0&&run.gap[i]<1e30?Math.log(run.gap[i])/Math.LN10:"
    "null);}\n"
    "  var b=[Infinity,-Infinity,Infinity,-Infinity];bounds(t,g,b,1e300);\n"
    "  ctx.fillStyle='#333';ctx.font='13px sans-serif';\n"
    "  ctx.fillText('f \\u2212 f* against the iteration'+(logx?' (both on log scales)':"
    "' (log scale)'),8,16);\n"
    "  if(!isFinite(b[0]))return;if(b[3]-b[2]<1){b[2]-=.5;b[3]+=.5;}\n"
    "  var m=frame(ctx,w,h,b,44,false);ctx.strokeStyle='#ddd';ctx.beginPath();\n"
    "  for(var e=Math.ceil(b[2]);e<=b[3];e++){ctx.moveTo(44,m.y(e));ctx.lineTo(w-10,m.y(e));"
    "ctx.fillText('1e'+e,2,m.y(e)-2);}ctx.stroke();\n"
    "  ctx.fillText('t = '+run.t[0],44,h-8);var last='t = '+tmax;"
    "ctx.fillText(last,w-12-ctx.measureText(last).width,h-8);\n"
    "  ctx.strokeStyle=colors[data.runs.indexOf(run)%colors.length];ctx.lineWidth=1.5;"
    "ctx.beginPath();var on=false;\n"
    "  for(i=0;i<=k&&i<g.length;i++){if(g[i]===null){on=false;continue;}"
    "if(on)ctx.lineTo(m.x(t[i]),m.y(g[i]));else ctx.moveTo(m.x(t[i]),m.y(g[i]));on=true;}"
    "ctx.stroke();}\n"
    "function setup(data){var root=document.getElementById(data.id);if(!root)return;\n"
    "  var runIn=root.querySelector('input.run'),stepIn=root.querySelector('input.step'),\n"
    "    play=root.querySelector('button.play'),name=root.querySelector('output.run-name'),\n"
    "    read=root.querySelector('output.readout'),timer=null;\n"
    "  runIn.max=data.runs.length-1;\n"
    "  function num(v){return finite(v)?Number(v).toPrecision(4):'\\u2014';}\n"
    "  function show(){var run=data.runs[+runIn.value],k=+stepIn.value;name.textContent=run.name;\n"
    "    read.textContent='t = '+run.t[k]+(data.dim===1?', \\u03b8 = '+num(run.x[k]):"
    "', \\u03b8 = ('+num(run.x[k])+', '+num(run.y[k])+')')+', f = '+num(run.f[k]);\n"
    "    drawPlane(root.querySelector('canvas.plane'),data,run,k);"
    "drawGap(root.querySelector('canvas.gap'),data,run,k);}\n"
    "  function pickRun(){var run=data.runs[+runIn.value];stepIn.max=run.t.length-1;"
    "stepIn.value=Math.min(+stepIn.value,run.t.length-1);show();}\n"
    "  function stop(){if(timer){clearInterval(timer);timer=null;play.textContent='play';}}\n"
    "  runIn.addEventListener('input',function(){stop();pickRun();});\n"
    "  stepIn.addEventListener('input',function(){stop();show();});\n"
    "  play.addEventListener('click',function(){if(timer){stop();return;}\n"
    "    if(+stepIn.value>=+stepIn.max)stepIn.value=0;play.textContent='pause';\n"
    "    timer=setInterval(function(){if(+stepIn.value>=+stepIn.max){stop();return;}"
    "stepIn.value=+stepIn.value+1;show();},120);});\n"
    "  stepIn.value=0;pickRun();stepIn.value=Math.min(12,+stepIn.max);show();\n"
    "  root.hidden=false;}\n"
    "for(var i=0;i<LAB_REPLAYS.length;i++)setup(LAB_REPLAYS[i]);\n"
    "document.body.setAttribute('data-replays',String(LAB_REPLAYS.length));\n"
    "})();\n";

int lab_page_write(const char *dir, const char *title, const lab_page_demo *demos, int n,
                   const char *const *notes, int n_notes) {
  /* Written beside, then renamed: an existing index.html is never left
     half-written, and a failed write leaves none. */
  char path[4200], part[4300];
  snprintf(path, sizeof path, "%s/index.html", dir);
  snprintf(part, sizeof part, "%s.part", path);
  FILE *f = fopen(part, "w");
  if (!f) return descent_fail(DESCENT_EIO, "cannot write '%s': %s", part, strerror(errno));
  fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
             "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
  lab_html_text(f, title);
  /* The replays colour each run as the pictures do (lab_color). */
  fprintf(f, "</title>\n<style>%s</style>\n<script>var LAB_REPLAYS=[];var LAB_COLORS=[", style);
  for (int i = 0; i < 10; i++) fprintf(f, "%s\"%s\"", i ? "," : "", lab_color(i));
  fprintf(f, "];</script>\n</head>\n<body>\n");
  fprintf(f, "<h1>");
  lab_html_text(f, title);
  fprintf(f, "</h1>\n<p>Each section below is one figure of the lecture (Nicolas Le Roux, "
             "&ldquo;Optimisation pour les r&eacute;seaux profonds&rdquo;), measured again: "
             "the slide's claim, the command that reproduces it, the picture, the numbers "
             "behind it and what to look for. Every file named here lies in the folder of "
             "this page; each demo's <code>.gp</code> script redraws its picture with "
             "gnuplot.</p>\n");
  if (n_notes) {
    fprintf(f, "<h2 id=\"notes\">Notes</h2>\n<ul class=\"page-notes\">\n");
    for (int i = 0; i < n_notes; i++) {
      fprintf(f, "<li>");
      lab_html_text(f, notes[i]);
      fprintf(f, "</li>\n");
    }
    fprintf(f, "</ul>\n");
  }
  fprintf(f, "<nav>\n<h2 id=\"contents\">Contents</h2>\n<ol>\n");
  for (int i = 0; i < n; i++) {
    fprintf(f, "<li><a href=\"#demo-");
    lab_html_text(f, demos[i].demo->name);
    fprintf(f, "\">");
    lab_html_text(f, demos[i].demo->name);
    fprintf(f, "</a> (");
    lab_html_text(f, demos[i].demo->slides);
    fprintf(f, ")%s</li>\n", demos[i].result ? "" : " &mdash; not run");
  }
  fprintf(f, "</ol>\n</nav>\n");
  int replay_counter = 0;
  for (int i = 0; i < n; i++) section(f, dir, &demos[i], &replay_counter);
  fprintf(f, "<script>\n%s</script>\n</body>\n</html>\n", script);
  int bad = ferror(f);
  if (fclose(f) != 0 || bad) {
    int e = errno;
    unlink(part);
    return descent_fail(DESCENT_EIO, "writing '%s' failed: %s", path, strerror(e));
  }
  if (rename(part, path) != 0) {
    int e = errno;
    unlink(part);
    return descent_fail(DESCENT_EIO, "cannot write '%s': %s", path, strerror(e));
  }
  return DESCENT_OK;
}
