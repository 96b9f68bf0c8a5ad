# Seed 000 "协程": a generator is Python's most basic coroutine.
def foo():
    for i in range(10):
        # 暂时返回一个值，并将控制权交出去
        yield i
        print(u'foo: 控制权又回到我手上了，叫我大笨蛋')


bar = foo()
# 执行coroutine
print(next(bar))
print(u'main: 现在控制权在我手上，啦啦啦')
print('main:hello baby!')
# 回到刚刚foo这个coroutine中断的地方继续执行
print(next(bar))
print(u'main: 老大我又来了')
print(next(bar))
print(next(bar))
