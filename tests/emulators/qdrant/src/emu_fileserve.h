/* SPDX-License-Identifier: Apache-2.0 */
/* emu_fileserve.h -- snapshot downloads the way Qdrant serves them: stored
 * files like actix-files NamedFile (Content-Length, Content-Disposition,
 * ETag, Last-Modified, single Range -> 206, 416, If-None-Match -> 304), gzip
 * on the fly when the client sends Accept-Encoding (actix Compress: chunked,
 * no Content-Length; 206 never compressed), and route 15's chunked stream.
 * Plain files go out through MHD_create_response_from_fd (sendfile); armed
 * download faults (throttle, truncate, stall) switch to a reader callback. */
#ifndef EMU_FILESERVE_H
#define EMU_FILESERVE_H

#include "emu_http.h"

/* Serves path as attachment `name`.  Errors go out as text/plain. */
void emu_serve_file(struct emu_req *r, const char *path, const char *name);
/* Streams what arrives on fd (a pipe; takes ownership) chunked, without
 * length, until its writer closes it. */
void emu_serve_stream(struct emu_req *r, int fd, const char *name);

#endif
