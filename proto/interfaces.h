/* The text of certpick's Varlink interface definitions, compiled in from
 * the .varlink files in proto/. */
#pragma once

/* org.certpick.Agent, served by certpickd. */
extern const char cp_agent_interface[];

/* org.certpick.Picker, served by the picker to certpickd. */
extern const char cp_picker_interface[];
