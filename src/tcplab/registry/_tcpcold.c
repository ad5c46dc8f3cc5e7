/* The compiled cold decision path of tcplab registries (optional; see _cold.py).
 *
 * One call = the pure-Python path of tcplab.registry._cold.python_decider, step for step:
 * CRC-32 of the UTF-8 name, linear probing in the mapped hash-slot table (at most N + 1
 * probes), full-name comparison, then structural validation of the 24 descriptor bytes
 * (magic, version, CRC-32 low 16 bits) and the risk bits. Every offset read from the file is
 * bounds-checked here as well, although Registry() has already validated the tables.
 *
 * Decider(buffer, n, names_off, slots_off, slots_n, blob_off, blob_len, results, unknown)
 *   .decide(str) -> results[risk bits] or unknown
 *   .index(str)  -> entry index or -1
 *   .release()   -> drops the buffer (the mmap can then be closed)
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

static uint32_t crc_table[256];

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

static uint32_t crc32_iso(const unsigned char *p, Py_ssize_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (Py_ssize_t i = 0; i < n; i++) c = crc_table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

static inline uint64_t rd_u64(const unsigned char *p) {
    uint64_t v = 0;
    for (int k = 7; k >= 0; k--) v = (v << 8) | p[k];
    return v;
}

static inline uint32_t rd_u32(const unsigned char *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

typedef struct {
    PyObject_HEAD
    Py_buffer view;
    int has_view;
    uint64_t n, names_off, slots_off, slots_n, blob_off, blob_len;
    PyObject *results; /* tuple of 32 results, indexed by the five risk bits */
    PyObject *unknown;
} Decider;

static int decider_init(Decider *self, PyObject *args, PyObject *kwds) {
    PyObject *buf, *results, *unknown;
    unsigned long long n, no, so, sn, bo, bl;
    if (!PyArg_ParseTuple(args, "OKKKKKKO!O", &buf, &n, &no, &so, &sn, &bo, &bl,
                          &PyTuple_Type, &results, &unknown))
        return -1;
    if (PyTuple_GET_SIZE(results) != 32) {
        PyErr_SetString(PyExc_ValueError, "results must hold 32 entries");
        return -1;
    }
    if (self->has_view) {
        PyBuffer_Release(&self->view);
        self->has_view = 0;
    }
    if (PyObject_GetBuffer(buf, &self->view, PyBUF_SIMPLE) < 0) return -1;
    self->has_view = 1;
    uint64_t size = (uint64_t)self->view.len;
    if (sn == 0 || (sn & (sn - 1)) || n >= sn || no > size || (n + 1) > (size - no) / 8 ||
        so > size || sn > (size - so) / 4 || bo > size || bl > size - bo) {
        PyBuffer_Release(&self->view);
        self->has_view = 0;
        PyErr_SetString(PyExc_ValueError, "table bounds outside the buffer");
        return -1;
    }
    self->n = n; self->names_off = no; self->slots_off = so; self->slots_n = sn;
    self->blob_off = bo; self->blob_len = bl;
    Py_INCREF(results);
    Py_XSETREF(self->results, results);
    Py_INCREF(unknown);
    Py_XSETREF(self->unknown, unknown);
    return 0;
}

/* Entry index of the UTF-8 name, -1 when absent, -2 when the registry was released. */
static Py_ssize_t find(Decider *self, const unsigned char *name, Py_ssize_t len) {
    if (!self->has_view) return -2;
    const unsigned char *base = (const unsigned char *)self->view.buf;
    uint64_t mask = self->slots_n - 1;
    uint64_t h = crc32_iso(name, len) & mask;
    for (uint64_t probe = 0; probe <= self->n; probe++) {
        uint32_t idx = rd_u32(base + self->slots_off + 4 * h);
        if (idx == 0 || idx > self->n) return -1;
        uint64_t a = rd_u64(base + self->names_off + 8 * (uint64_t)(idx - 1));
        uint64_t b = rd_u64(base + self->names_off + 8 * (uint64_t)idx);
        if (a <= b && b <= self->blob_len && b - a == (uint64_t)len &&
            memcmp(base + self->blob_off + a, name, (size_t)len) == 0)
            return (Py_ssize_t)idx - 1;
        h = (h + 1) & mask;
    }
    return -1;
}

static Py_ssize_t find_str(Decider *self, PyObject *arg) {
    if (!PyUnicode_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "command must be str, not %.80s", Py_TYPE(arg)->tp_name);
        return -3;
    }
    Py_ssize_t len;
    const char *name = PyUnicode_AsUTF8AndSize(arg, &len);
    if (name == NULL) { /* lone surrogates: no stored (UTF-8) name can match */
        PyErr_Clear();
        return -1;
    }
    Py_ssize_t i = find(self, (const unsigned char *)name, len);
    if (i == -2) {
        PyErr_SetString(PyExc_ValueError, "the registry is closed");
        return -3;
    }
    return i;
}

static PyObject *decider_decide(Decider *self, PyObject *arg) {
    Py_ssize_t i = find_str(self, arg);
    if (i == -3) return NULL;
    if (i < 0) return Py_NewRef(self->unknown);
    const unsigned char *d = (const unsigned char *)self->view.buf + 64 + 24 * (uint64_t)i;
    if (d[0] != 'T' || d[1] != 'C' || d[2] != 'P' || d[3] != 2 || d[4] != 0 || d[5] != 2 ||
        ((uint32_t)(d[22] << 8 | d[23])) != (crc32_iso(d, 22) & 0xFFFFu))
        return Py_NewRef(self->unknown);
    return Py_NewRef(PyTuple_GET_ITEM(self->results, d[13] & 0x1F));
}

static PyObject *decider_index(Decider *self, PyObject *arg) {
    Py_ssize_t i = find_str(self, arg);
    if (i == -3) return NULL;
    return PyLong_FromSsize_t(i);
}

static PyObject *decider_release(Decider *self, PyObject *Py_UNUSED(ignored)) {
    if (self->has_view) {
        PyBuffer_Release(&self->view);
        self->has_view = 0;
    }
    Py_RETURN_NONE;
}

static void decider_dealloc(Decider *self) {
    if (self->has_view) PyBuffer_Release(&self->view);
    Py_XDECREF(self->results);
    Py_XDECREF(self->unknown);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef decider_methods[] = {
    {"decide", (PyCFunction)decider_decide, METH_O, "Cold decision for one command."},
    {"index", (PyCFunction)decider_index, METH_O, "Entry index of a command, or -1."},
    {"release", (PyCFunction)decider_release, METH_NOARGS, "Release the mapped buffer."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject DeciderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "tcplab.registry._tcpcold.Decider",
    .tp_basicsize = sizeof(Decider),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)decider_init,
    .tp_dealloc = (destructor)decider_dealloc,
    .tp_methods = decider_methods,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_tcpcold", "Compiled cold decision path.", -1, NULL,
};

PyMODINIT_FUNC PyInit__tcpcold(void) {
    crc_init();
    if (PyType_Ready(&DeciderType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Py_INCREF(&DeciderType);
    if (PyModule_AddObject(m, "Decider", (PyObject *)&DeciderType) < 0) {
        Py_DECREF(&DeciderType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
