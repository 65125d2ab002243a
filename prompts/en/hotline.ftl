# Prompts of the 940 complaints hotline, English.
# Message ids are the names scripts use after `say`; the same ids exist in prompts/ar.

welcome = Welcome to the 940 municipal services line.
for-arabic = For Arabic, press 1.
for-english = For English, press 2.
main-options = To report a new complaint, press 1. To check on a complaint you already reported, press 2. To speak to an agent, press 0. To hear these options again, press 9.
category-options = Choose the kind of problem. For roads and potholes, press 1. For street lighting, press 2. For waste collection, press 3. For water leaks, press 4. To go back, press star.
enter-district = Please enter the three-digit code of your district.
district-invalid = That district code is not complete. Please enter all three digits.
describe-after-beep = After the beep, describe the problem and where it is. Press hash when you have finished.
nothing-recorded = We did not hear a description.
you-said = This is what you said.
confirm-or-rerecord = To send your complaint, press 1. To record it again, press 2.
submitting = Thank you. We are registering your complaint.
submit-failed = Sorry, we could not register your complaint right now. We will put you through to an agent.
your-ticket-number-is = Your complaint number is
enter-ticket = Please enter your complaint number, then press hash.
ticket-not-found = We could not find that complaint number. Please try again.
ticket-not-found-transfer = We still could not find that complaint number. We will put you through to an agent.
lookup-failed = Sorry, we cannot check complaints right now. We will put you through to an agent.
ticket-status-intro = Here is the status of your complaint.
status-received = Your complaint has been received and will be assigned to a team soon.
status-in-progress = A team is working on your complaint.
status-escalated = Your complaint is overdue and has been escalated to a supervisor.
status-resolved = Your complaint has been resolved.
status-closed = Your complaint is closed.
status-note = A note from the team handling it:
status-updated-on = It was last updated on
transferring = Please hold while we connect you to an agent.
agents-busy = All our agents are busy at the moment. Please call again later.
agents-no-answer = No agent is available at the moment. Please call again later.
centre-closed = Our agents are available Sunday to Thursday, from eight in the morning to four in the afternoon.
thank-you-goodbye = Thank you for calling 940. Goodbye.
did-not-hear = Sorry, we did not hear you.
did-not-hear-again = We still did not hear anything. Please use your telephone keypad.
invalid-choice = Sorry, that is not one of the options.
