/*
** module.c - the Lua C module gvlua.so: everything is in the gvlua static
** library (linked whole); this file only gives the module a source.
*/
#include "gvlua.h"
