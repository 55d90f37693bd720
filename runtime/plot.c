/* The History as a self-contained SVG: a panel per quantity, axes, ticks,
 * a polyline per series and a legend. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fit_internal.h"

static void xml_text(FILE *f, const char *s) {
  for (; *s; ++s) {
    if (*s == '<')
      fputs("&lt;", f);
    else if (*s == '>')
      fputs("&gt;", f);
    else if (*s == '&')
      fputs("&amp;", f);
    else if (*s == '"')
      fputs("&quot;", f);
    else
      fputc(*s, f);
  }
}

/* A "nice" step (1, 2 or 5 x 10^k) for about `count` intervals over span. */
static double nice_step(double span, int count) {
  double raw = span / count, mag = pow(10, floor(log10(raw))), r = raw / mag;
  return (r < 1.5 ? 1 : r < 3.5 ? 2 : r < 7.5 ? 5 : 10) * mag;
}

static void tick_label(char *buf, size_t len, double v, double step) {
  if (fabs(v) < step * 1e-9)
    v = 0;
  if (step >= 1 && fabs(v) < 1e7)
    snprintf(buf, len, "%.0f", v);
  else
    snprintf(buf, len, "%.4g", v);
}

static const char *const PALETTE[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                      "#9467bd", "#8c564b", "#e377c2", "#17becf"};

/* The quantity a series belongs to: its name without "val_". */
static const char *base_name(const char *name) {
  return strncmp(name, "val_", 4) == 0 ? name + 4 : name;
}

int rnnc_history_plot_svg(const rnnc_history *h, const char *path, const char *title, char *err,
                          size_t errlen) {
  /* panels: distinct base names in order of first appearance */
  const char *panels[RNNC_MAX_SERIES];
  int n_panels = 0;
  for (int s = 0; s < h->n_series; ++s) {
    const char *b = base_name(h->names[s]);
    int seen = 0;
    for (int p = 0; p < n_panels; ++p)
      seen |= strcmp(panels[p], b) == 0;
    if (!seen)
      panels[n_panels++] = b;
  }
  const double W = 720, PH = 300, TOP = 40, L = 80, R = 170, PT = 20, PB = 50;
  double height = TOP + (n_panels ? n_panels : 1) * PH + 10;
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "wb");
  if (!f) {
    snprintf(err, errlen, "%s: cannot create the plot", tmp);
    return -1;
  }
  fprintf(f,
          "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
          "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n",
          W, height, W, height);
  fprintf(f, "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"white\"/>\n", W, height);
  fprintf(f, "<text x=\"%.0f\" y=\"24\" text-anchor=\"middle\" font-size=\"16\">", W / 2);
  xml_text(f, title && *title ? title : "training history");
  fprintf(f, "</text>\n");
  int first_epoch = h->n_epochs ? h->epoch[0] + 1 : 1;
  int last_epoch = h->n_epochs ? h->epoch[h->n_epochs - 1] + 1 : 1;
  double x0 = first_epoch, x1 = last_epoch > first_epoch ? last_epoch : first_epoch + 1;
  int color = 0;
  for (int p = 0; p < n_panels; ++p) {
    double top = TOP + p * PH + PT, bottom = TOP + (p + 1) * PH - PB;
    double left = L, right = W - R;
    /* value range over the panel's series */
    double lo = INFINITY, hi = -INFINITY;
    for (int s = 0; s < h->n_series; ++s) {
      if (strcmp(base_name(h->names[s]), panels[p]) != 0)
        continue;
      for (int r = 0; r < h->n_epochs; ++r) {
        double v = h->values[(size_t)r * (size_t)h->n_series + (size_t)s];
        if (isfinite(v)) {
          lo = fmin(lo, v);
          hi = fmax(hi, v);
        }
      }
    }
    if (!(lo <= hi))
      lo = 0, hi = 1;
    int is_acc = strstr(panels[p], "acc") != NULL;
    int log_scale = !is_acc && lo > 0 && hi / lo > 100;
    double vlo, vhi, step;
    if (log_scale) {
      vlo = floor(log10(lo));
      vhi = ceil(log10(hi));
      step = 1;
    } else {
      if (is_acc && lo >= 0 && hi <= 1)
        lo = 0, hi = 1;
      if (hi - lo < 1e-12 * fmax(1, fabs(hi)))
        lo -= fmax(0.5, fabs(lo) * 0.1), hi += fmax(0.5, fabs(hi) * 0.1);
      step = nice_step(hi - lo, 5);
      vlo = floor(lo / step) * step;
      vhi = ceil(hi / step) * step;
    }
#define SX(e) (left + ((double)(e)-x0) / (x1 - x0) * (right - left))
#define SY(v) (bottom - ((v)-vlo) / (vhi - vlo) * (bottom - top))
    fprintf(f, "<g class=\"panel\">\n");
    fprintf(f,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
            "stroke=\"#ccc\"/>\n",
            left, top, right - left, bottom - top);
    /* y ticks and grid */
    for (double v = vlo; v <= vhi + step * 1e-6; v += step) {
      char label[64];
      double y = SY(v);
      if (log_scale && v >= -3 && v <= 4)
        snprintf(label, sizeof label, "%g", pow(10, v));
      else if (log_scale)
        snprintf(label, sizeof label, "1e%+.0f", v);
      else
        tick_label(label, sizeof label, v, step);
      fprintf(f,
              "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>"
              "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>"
              "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
              left, y, right, y, left - 5, y, left, y, left - 8, y + 4, label);
    }
    /* x ticks */
    double xstep = nice_step(x1 - x0, 8);
    if (xstep < 1)
      xstep = 1;
    for (double e = ceil(x0 / xstep) * xstep; e <= x1 + 1e-9; e += xstep) {
      double x = SX(e);
      fprintf(f,
              "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>"
              "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.0f</text>\n",
              x, bottom, x, bottom + 5, x, bottom + 18, e);
    }
    /* axes and labels */
    fprintf(f,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>"
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>\n",
            left, bottom, right, bottom, left, top, left, bottom);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">epoch</text>\n",
            (left + right) / 2, bottom + 36);
    fprintf(f,
            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
            "transform=\"rotate(-90 %.1f %.1f)\">",
            20.0, (top + bottom) / 2, 20.0, (top + bottom) / 2);
    xml_text(f, panels[p]);
    fprintf(f, "%s</text>\n", log_scale ? " (log scale)" : "");
    /* one polyline per series, and its legend entry */
    int entry = 0;
    for (int s = 0; s < h->n_series; ++s) {
      if (strcmp(base_name(h->names[s]), panels[p]) != 0)
        continue;
      const char *c = PALETTE[color++ % (int)(sizeof PALETTE / sizeof *PALETTE)];
      int val = strncmp(h->names[s], "val_", 4) == 0;
      fprintf(f, "<polyline class=\"series\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\"%s", c,
              val ? " stroke-dasharray=\"6 3\"" : "");
      fprintf(f, " data-name=\"");
      xml_text(f, h->names[s]);
      fprintf(f, "\" points=\"");
      for (int r = 0; r < h->n_epochs; ++r) {
        double v = h->values[(size_t)r * (size_t)h->n_series + (size_t)s];
        if (!isfinite(v) || (log_scale && v <= 0))
          continue;
        fprintf(f, "%s%.2f,%.2f", r ? " " : "", SX(h->epoch[r] + 1), SY(log_scale ? log10(v) : v));
      }
      fprintf(f, "\"/>\n");
      double ly = top + 10 + 18 * entry++;
      fprintf(f,
              "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
              "stroke-width=\"2\"%s/><text x=\"%.1f\" y=\"%.1f\">",
              right + 12, ly, right + 40, ly, c, val ? " stroke-dasharray=\"6 3\"" : "", right + 46,
              ly + 4);
      xml_text(f, h->names[s]);
      fprintf(f, "</text>\n");
    }
    fprintf(f, "</g>\n");
#undef SX
#undef SY
  }
  fprintf(f, "</svg>\n");
  int bad = ferror(f);
  if (fclose(f) != 0 || bad || rename(tmp, path) != 0) {
    remove(tmp);
    snprintf(err, errlen, "%s: cannot write the plot", path);
    return -1;
  }
  return 0;
}
