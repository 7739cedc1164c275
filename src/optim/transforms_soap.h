/*
 * transforms_soap.h - SOAP (transforms_soap.c): Adam in the eigenbasis of
 * Shampoo's preconditioner, one whole tensor at a time; listed in
 * transform.c's table of built-ins.
 */
#ifndef DESCENT_TRANSFORMS_SOAP_H
#define DESCENT_TRANSFORMS_SOAP_H

#include "transform.h"

extern const transform_def transform_soap;

#endif /* DESCENT_TRANSFORMS_SOAP_H */
