# The error pages every browser route can answer.

page-not-found-title = Page not found
page-not-found = There is no page at this address. Check the link or go back to the home page.
page-internal-error-title = Something went wrong
page-internal-error = Something went wrong on our side. Please try again in a few minutes.
page-unavailable-title = Temporarily unavailable
page-rate-limited-title = Too many attempts
page-invalid-link-title = This link is not valid
page-invalid-link = The address you followed is incomplete or damaged. Go back and try again.
page-invalid-form-title = The form could not be read
page-invalid-form = What was sent is incomplete or damaged. Go back, reload the page and try again.
page-bad-request-title = This request could not be handled
page-bad-request = What was sent is too large, incomplete or damaged. Go back, reload the page and try again.
page-method-not-allowed = This address does not take this kind of request. Go back, reload the page and try again.
page-rate-limited = Too many attempts. Please wait { $seconds } seconds before trying again.
page-csrf-title = This form has expired
page-csrf = For your security this form can no longer be sent. Go back, reload the page and try again.
page-invalid-language-title = Unknown language
page-invalid-language = This language is not offered. Choose French, German or English.
page-eaccess-unavailable-title = eAccess cannot be reached
page-eaccess-unavailable = The State authentication portal (eAccess) cannot be reached right now. Please try again in a few minutes.
