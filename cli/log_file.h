/*
 * log_file.h - the run folder's CSV logs that grow a row at a time
 * (metrics.csv by epoch, diagnostics.csv by step) and must hold exactly
 * what the trainer holds after a resume or a rollback.
 */
#ifndef DESCENT_CLI_LOG_FILE_H
#define DESCENT_CLI_LOG_FILE_H

#include <stdio.h>

/* Replaces dir/name atomically (a .tmp file, flushed, synced, renamed) by
   header (its whole first line, newline included) and the file's complete
   rows whose first field, a whole number, lies in [1, last]; a missing file
   gives the header alone. Then opens it for appending into *out. 0, or -1
   after printing why (prefixed "descent train: "). */
int log_file_keep_rows(const char *dir, const char *name, const char *header, long long last,
                       FILE **out);

#endif /* DESCENT_CLI_LOG_FILE_H */
