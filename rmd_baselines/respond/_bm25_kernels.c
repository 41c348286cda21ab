/* The two inner loops of a budgeted BM25 search (rmd_baselines/respond/bm25.py), compiled.
 *
 * In numpy the first pass of a query is a dozen passes over its postings (gather the documents and weights, scale,
 * scatter-add into the accumulator, mark and gather the touched documents, reset), and every one of them jumps
 * around an accumulator of one float per indexed context: tens of MB at MedDialog-CN size, so nearly every access
 * misses the cache. Here each posting is read once and touches the accumulator once. The arithmetic is the numpy
 * path's, in the same order (float32 products and sums for the first pass, float64 for the exact scores), so both
 * give the same numbers bit for bit; bm25.py keeps the numpy path as the reference and as the fallback when this
 * module is not built. Built with -ffp-contract=off so that no multiply-add is fused (that would round once, not
 * twice, and change the sums).
 *
 * Buffers come from bm25.py, which passes C-contiguous arrays of the stated dtypes. Every index and pointer read
 * from the (memory-mapped, on-disk) index is still checked before use: a file changed under a loaded index gives a
 * ValueError, never a write out of bounds.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#define PREFETCH_POSTINGS 64  /* how far ahead of the posting being added its document's accumulator is fetched */
#define PREFETCH_DOCUMENTS 4  /* how far ahead of the document being scored its forward list is fetched */

static int
check_items(Py_buffer *view, Py_ssize_t size, const char *name)
{
    if (view->len % size != 0) {
        PyErr_Format(PyExc_ValueError, "%s: a buffer of %zd-byte items expected", name, size);
        return -1;
    }
    return 0;
}

/* first_pass(inv_ptr, inv_docs, inv_weights, terms, lengths, values, acc, docs_out, scores_out) -> n
 *
 * For every term i (in order) and each of the first lengths[i] postings of the term's list (in order), adds
 * values[i] * weight to acc[document]. Returns how many documents received a positive score and writes them to
 * docs_out[:n] (in the order first reached) with their partial scores to scores_out[:n]; acc is left all zero
 * again. Types: inv_ptr, terms, lengths int64; inv_docs uint32; inv_weights, values, acc, scores_out float32;
 * docs_out int64 with room for sum(lengths) entries. */
static PyObject *
first_pass(PyObject *self, PyObject *args)
{
    Py_buffer ptr_b, docs_b, weights_b, terms_b, lengths_b, values_b, acc_b, out_docs_b, out_scores_b;
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*y*w*w*w*", &ptr_b, &docs_b, &weights_b, &terms_b, &lengths_b,
                          &values_b, &acc_b, &out_docs_b, &out_scores_b))
        return NULL;
    Py_buffer *all[] = {&ptr_b, &docs_b, &weights_b, &terms_b, &lengths_b, &values_b, &acc_b, &out_docs_b,
                        &out_scores_b};
    PyObject *result = NULL;
    const char *problem = NULL;
    Py_ssize_t n = 0;

    if (check_items(&ptr_b, 8, "inv_ptr") || check_items(&docs_b, 4, "inv_docs")
        || check_items(&weights_b, 4, "inv_weights") || check_items(&terms_b, 8, "terms")
        || check_items(&lengths_b, 8, "lengths") || check_items(&values_b, 4, "values")
        || check_items(&acc_b, 4, "acc") || check_items(&out_docs_b, 8, "docs_out")
        || check_items(&out_scores_b, 4, "scores_out"))
        goto done;
    const int64_t *ptr = ptr_b.buf;
    const uint32_t *docs = docs_b.buf;
    const float *weights = weights_b.buf;
    const int64_t *terms = terms_b.buf, *lengths = lengths_b.buf;
    const float *values = values_b.buf;
    float *acc = acc_b.buf, *out_scores = out_scores_b.buf;
    int64_t *out_docs = out_docs_b.buf;
    const Py_ssize_t n_terms = ptr_b.len / 8 - 1, n_postings = docs_b.len / 4, n_docs = acc_b.len / 4;
    const Py_ssize_t m = terms_b.len / 8, room = out_docs_b.len / 8;
    if (lengths_b.len / 8 != m || values_b.len / 4 != m || weights_b.len / 4 != n_postings
        || out_scores_b.len / 4 != room) {
        PyErr_SetString(PyExc_ValueError, "first_pass: buffers of inconsistent lengths");
        goto done;
    }

    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < m && !problem; i++) {
        const int64_t term = terms[i];
        if (term < 0 || term >= n_terms) { problem = "term number out of range"; break; }
        const int64_t start = ptr[term], stop = start + lengths[i];
        if (lengths[i] < 0 || start < 0 || stop > ptr[term + 1] || stop > n_postings) {
            problem = "posting list out of range";
            break;
        }
        if (n + (stop - start) > room) { problem = "docs_out is too small"; break; }
        const float value = values[i];
        for (int64_t p = start; p < stop; p++) {
            if (p + PREFETCH_POSTINGS < stop) {  /* the accumulator is too large for the cache: ask for it early */
                const uint32_t ahead = docs[p + PREFETCH_POSTINGS];
                __builtin_prefetch(&acc[ahead < (uint64_t)n_docs ? ahead : 0], 1, 3);
            }
            const uint32_t doc = docs[p];
            if (doc >= (uint64_t)n_docs) { problem = "document number out of range"; break; }
            const float contribution = weights[p] * value;
            /* Without branches (whether a document is new is a coin toss, and a mispredicted branch also throws
             * away the cache misses already under way): the document is written after the others and kept when
             * this is its first positive contribution. A zero contribution changes no sum. */
            const float before = acc[doc];
            out_docs[n] = doc;
            n += (before == 0.0f) & (contribution > 0.0f);
            acc[doc] = before + contribution;
        }
    }
    for (Py_ssize_t j = 0; j < n; j++) {
        out_scores[j] = acc[out_docs[j]];
        acc[out_docs[j]] = 0.0f;
    }
    Py_END_ALLOW_THREADS

    if (problem)
        PyErr_Format(PyExc_ValueError, "inconsistent BM25 index: %s", problem);
    else
        result = PyLong_FromSsize_t(n);
done:
    for (size_t b = 0; b < sizeof(all) / sizeof(all[0]); b++)
        PyBuffer_Release(all[b]);
    return result;
}

/* exact_scores(fwd_ptr, fwd_terms, fwd_weights, docs, dense_query, out)
 *
 * out[i] = sum over the forward entries p of docs[i], in order, of float64(fwd_weights[p]) *
 * dense_query[fwd_terms[p]]. Types: fwd_ptr, docs int64; fwd_terms uint32; fwd_weights float32; dense_query, out
 * float64 (out has one entry per document). */
static PyObject *
exact_scores(PyObject *self, PyObject *args)
{
    Py_buffer ptr_b, terms_b, weights_b, docs_b, query_b, out_b;
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*w*", &ptr_b, &terms_b, &weights_b, &docs_b, &query_b, &out_b))
        return NULL;
    Py_buffer *all[] = {&ptr_b, &terms_b, &weights_b, &docs_b, &query_b, &out_b};
    PyObject *result = NULL;
    const char *problem = NULL;

    if (check_items(&ptr_b, 8, "fwd_ptr") || check_items(&terms_b, 4, "fwd_terms")
        || check_items(&weights_b, 4, "fwd_weights") || check_items(&docs_b, 8, "docs")
        || check_items(&query_b, 8, "dense_query") || check_items(&out_b, 8, "out"))
        goto done;
    const int64_t *ptr = ptr_b.buf, *docs = docs_b.buf;
    const uint32_t *terms = terms_b.buf;
    const float *weights = weights_b.buf;
    const double *query = query_b.buf;
    double *out = out_b.buf;
    const Py_ssize_t n_docs = ptr_b.len / 8 - 1, n_entries = terms_b.len / 4, n_terms = query_b.len / 8;
    const Py_ssize_t k = docs_b.len / 8;
    if (weights_b.len / 4 != n_entries || out_b.len / 8 != k) {
        PyErr_SetString(PyExc_ValueError, "exact_scores: buffers of inconsistent lengths");
        goto done;
    }

    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < k && !problem; i++) {
        if (i + PREFETCH_DOCUMENTS < k) {
            const int64_t ahead = docs[i + PREFETCH_DOCUMENTS];
            if (ahead >= 0 && ahead < n_docs && ptr[ahead] >= 0 && ptr[ahead] < n_entries) {
                __builtin_prefetch(&terms[ptr[ahead]], 0, 3);
                __builtin_prefetch(&weights[ptr[ahead]], 0, 3);
            }
        }
        const int64_t doc = docs[i];
        if (doc < 0 || doc >= n_docs) { problem = "document number out of range"; break; }
        const int64_t start = ptr[doc], stop = ptr[doc + 1];
        if (start < 0 || stop < start || stop > n_entries) { problem = "forward list out of range"; break; }
        double sum = 0.0;
        for (int64_t p = start; p < stop; p++) {
            const uint32_t term = terms[p];
            if (term >= (uint64_t)n_terms) { problem = "term number out of range"; break; }
            const double contribution = (double)weights[p] * query[term];
            sum += contribution;
        }
        out[i] = sum;
    }
    Py_END_ALLOW_THREADS

    if (problem)
        PyErr_Format(PyExc_ValueError, "inconsistent BM25 index: %s", problem);
    else
        result = Py_NewRef(Py_None);
done:
    for (size_t b = 0; b < sizeof(all) / sizeof(all[0]); b++)
        PyBuffer_Release(all[b]);
    return result;
}

static PyMethodDef methods[] = {
    {"first_pass", first_pass, METH_VARARGS,
     "first_pass(inv_ptr, inv_docs, inv_weights, terms, lengths, values, acc, docs_out, scores_out) -> n"},
    {"exact_scores", exact_scores, METH_VARARGS,
     "exact_scores(fwd_ptr, fwd_terms, fwd_weights, docs, dense_query, out)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_bm25_kernels",
    "Compiled inner loops of the budgeted BM25 search (see rmd_baselines/respond/bm25.py).", -1, methods,
};

PyMODINIT_FUNC
PyInit__bm25_kernels(void)
{
    return PyModule_Create(&module);
}
