"""The assist loop's controllers (QtCore only, no widgets): training, review and versions.

``AssistLoop`` builds them on the workspace, the training session, the task runner and the
training supervisor; the widgets in ``app.ui`` render their state and forward intent to them.
"""
